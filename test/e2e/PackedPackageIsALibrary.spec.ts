/**
 * Guarantee: the package as published (`npm pack`) is a library: installed into a scratch project,
 * `import ... from 'eptfuzz'` resolves with its type declarations (the scratch project type-checks
 * under strict NodeNext rules, and a wrong use is a type error), and a small fast-check property
 * run by vitest there passes on the correct machine and catches a planted bug.
 * The package is compiled from src/ into a staging directory (the repository's dist/ is neither
 * used nor written), packed, and installed with the npm cache preferred (`npm ci` filled it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const REPO = join(import.meta.dirname, '..', '..');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string>; overrides?: Record<string, string> };

const PROPERTY = `import { expect, test } from 'vitest';
import { checkTrace, fc, machineStateTraceArbitrary, TARGETS, type Trace } from 'eptfuzz';

const agrees = (t: Trace): boolean => checkTrace(t, TARGETS.model).first === null;

test('the machine agrees with the model on working machine states', () => {
  fc.assert(fc.property(machineStateTraceArbitrary({ workloadMax: 20 }), agrees), { numRuns: 40, seed: 7 });
});

test('a planted bug is caught by the same property', () => {
  const r = fc.check(fc.property(machineStateTraceArbitrary({ bugs: ['canary'] }), agrees), { numRuns: 300, seed: 7 });
  expect(r.failed).toBe(true);
});
`;

function run(cmd: string, args: string[], cwd: string): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0', npm_config_update_notifier: 'false' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('PackedPackageIsALibrary', () => {
  it('npm pack, install into a scratch project, type-check it and run a vitest property there', () => {
    const root = tempDir('pack');
    const stage = join(root, 'stage');
    execFileSync(process.execPath, [TSC, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: REPO });
    for (const f of ['package.json', 'README.md']) copyFileSync(join(REPO, f), join(stage, f));
    const packed = run(NPM, ['pack', '--ignore-scripts', '--pack-destination', root], stage);
    expect(packed.code, packed.out).toBe(0);
    const tarball = readdirSync(root).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBe(`eptfuzz-${pkg.version}.tgz`);

    const scratch = join(root, 'scratch');
    mkdirSync(join(scratch, 'test'), { recursive: true });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({
      name: 'scratch', private: true, type: 'module',
      dependencies: { eptfuzz: `file:../${tarball}`, vitest: pkg.devDependencies.vitest },
      overrides: pkg.overrides ?? {},
    }, null, 2));
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] }, include: ['test'] }));
    writeFileSync(join(scratch, 'test', 'property.spec.ts'), PROPERTY);
    const installed = run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], scratch);
    expect(installed.code, installed.out).toBe(0);

    // Types: the import resolves to declarations (strict mode refuses an untyped module), and they bite.
    const typed = run(process.execPath, [TSC, '-p', 'tsconfig.json'], scratch);
    expect(typed.code, typed.out).toBe(0);
    writeFileSync(join(scratch, 'test', 'wrong.ts'), "import { defaultConfig } from 'eptfuzz';\nexport const n: number = defaultConfig();\n");
    const wrong = run(process.execPath, [TSC, '-p', 'tsconfig.json'], scratch);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/'MachineConfig' is not assignable to type 'number'/);

    const tested = run(process.execPath, [join(scratch, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter', 'verbose'], scratch);
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toMatch(/Tests\s+2 passed/);
    // Importing by name from plain JavaScript works too (exports map, no deep path).
    const plain = run(process.execPath, ['--input-type=module', '-e', "const m = await import('eptfuzz'); console.log(typeof m.loadTrace, typeof m.machineStateTraceArbitrary, m.EPTFUZZ_VERSION)"], scratch);
    expect(plain.out.trim()).toBe(`function function ${pkg.version}`);
  }, 180_000);
});
