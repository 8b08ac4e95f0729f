/**
 * A real redis-server for tests: one per call, on loopback, on a free port of its own, with a
 * temporary `--dir` and no snapshots (`--save ''`), killed by `stop()`. `restart()` stops it
 * (SHUTDOWN, which writes the append-only file when `persistent`) and starts it again on the same
 * port and directory: the hub's "Redis restarted mid-campaign" case. `freeze()` stops the process
 * (SIGSTOP) without closing its sockets: a hung Redis.
 * Without redis-server on PATH `redisAvailable()` is false and the hub suites skip with a visible
 * message; CI (.ci/run) installs it, so there they always run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** openssl on PATH (the TLS suite makes its certificate with it). */
export function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Whether suite `suite` can run: redis-server is here; if not, says so on the console (the suite then skips). */
export function redisOrSkipMessage(suite: string): boolean {
  const have = redisAvailable();
  if (!have) console.warn(`${suite}: SKIPPED: redis-server is not installed (.ci/run installs it: apt-get install redis-server)`);
  return have;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisOptions {
  password?: string;
  /** TLS only (`rediss://`), with a self-signed certificate for localhost made by openssl: `caFile` holds it. */
  tls?: boolean;
  /** Append-only file on, fsync always: data survive `restart()`. */
  persistent?: boolean;
}

export interface TestRedis {
  port: number;
  dir: string;
  /** redis://[:password@]127.0.0.1:port, or rediss://[:password@]localhost:port with `tls` */
  url: string;
  /** With `tls`: the certificate a client must trust (NODE_EXTRA_CA_CERTS). */
  caFile: string | null;
  restart(downMs?: number): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that is up (its sockets open) but answers nothing. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

async function waitUp(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startRedis(opts: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning'];
  let caFile: string | null = null;
  if (opts.tls === true) {
    caFile = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', caFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    if (made.status !== 0) throw new Error('openssl could not make a test certificate');
    args.splice(0, 2, '--port', '0', '--tls-port', String(port), '--tls-cert-file', caFile, '--tls-key-file', key, '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no');
  }
  if (opts.persistent === true) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  if (opts.password !== undefined) args.push('--requirepass', opts.password);
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitUp(port, 10_000);
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    await gone;
  };
  await launch();
  const auth = opts.password === undefined ? '' : `:${encodeURIComponent(opts.password)}@`;
  return {
    port,
    dir,
    url: opts.tls === true ? `rediss://${auth}localhost:${port}` : `redis://${auth}127.0.0.1:${port}`,
    caFile,
    async restart(downMs = 500): Promise<void> {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    freeze(): void {
      (child as ChildProcess | null)?.kill('SIGSTOP');
    },
    thaw(): void {
      (child as ChildProcess | null)?.kill('SIGCONT');
    },
    async stop(): Promise<void> {
      (child as ChildProcess | null)?.kill('SIGCONT');
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
