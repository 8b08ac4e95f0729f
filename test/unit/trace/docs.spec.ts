/**
 * The docs cannot drift from OP_SCHEMAS: every op has a section in docs/ops.md whose field table
 * matches the schema (names, order, kinds, ranges) and whose examples parse as that op; the
 * examples in docs/traces.md parse.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../../src/trace/json.js';
import { OP_SCHEMAS } from '../../../src/trace/ops.js';
import { formatOp, parseOp, parseText } from '../../../src/trace/text.js';
import { describeKind } from '../../../src/trace/validate.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const opsDoc = readFileSync(join(ROOT, 'docs', 'ops.md'), 'utf8');
const tracesDoc = readFileSync(join(ROOT, 'docs', 'traces.md'), 'utf8');

/** Sections of ops.md by op name: the text from `### \`name\`` to the next heading. */
function sections(doc: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = doc.split(/^### `([a-z0-9_]+)`\s*$/m);
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i], parts[i + 1].split(/^##? /m)[0]);
  return out;
}

const codeBlocks = (text: string, lang: string): string[] =>
  [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

describe('docs/ops.md documents every op exactly as OP_SCHEMAS describes it', () => {
  const bySection = sections(opsDoc);

  it('has one section per op and none for ops that do not exist', () => {
    expect([...bySection.keys()].sort()).toEqual(OP_SCHEMAS.map((s) => s.name).sort());
  });

  for (const schema of OP_SCHEMAS) {
    it(`\`${schema.name}\`: field table matches the schema and the examples parse`, () => {
      const section = bySection.get(schema.name);
      expect(section, `docs/ops.md has no section "### \`${schema.name}\`"`).toBeDefined();
      const rows = [...section!.matchAll(/^\| `([a-z0-9_]+)` \| (\w+) \| ((?:[^|\\]|\\\|)+) \|/gm)]
        .map((m) => ({ name: m[1], kind: m[2], range: m[3].trim().replace(/\\\|/g, '|') }));
      expect(rows).toEqual(schema.fields.map((f) => ({ name: f.name, kind: f.type.kind, range: describeKind(f.type) })));
      const examples = codeBlocks(section!, 'text').flatMap((block) => block.split('\n')).filter((line) => line.trim() !== '');
      expect(examples.length).toBeGreaterThan(0);
      for (const line of examples) {
        const op = parseOp(line);
        expect(op.op).toBe(schema.name);
        expect(formatOp(op)).toBe(line.trim()); // examples are written in canonical form
      }
    });
  }
});

describe('docs/traces.md examples parse', () => {
  it('the text example', () => {
    const [text] = codeBlocks(tracesDoc, 'text');
    const trace = parseText(text);
    expect(trace.ops.length).toBe(4);
    expect(trace.machine.bugs).toEqual(['canary']);
  });
  it('the JSON example', () => {
    const [json] = codeBlocks(tracesDoc, 'json');
    expect(parseJson(json).ops.length).toBe(2);
  });
});
