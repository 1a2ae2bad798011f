/**
 * Shared set-up for end-to-end tests of the whole gateway: runs `node bin/dw.js` for real on
 * temp data folders, starts `dw serve` on kernel-picked ports, and drives real clients
 * (curl for WebDAV, OpenSSH sftp, lftp over SFTP). Everything started is tracked and
 * stopped by `cleanupAll()` (call it from an `after` hook).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DW = join(ROOT, 'bin', 'dw.js');
const temps: string[] = [];
const children = new Set<ChildProcess>();

/** Kills every child still running and removes every temp folder made here. */
export async function cleanupAll(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  for (const t of temps) await rm(t, { recursive: true, force: true });
}

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dw-e2e-'));
  temps.push(d);
  return d;
}

export interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `dw ARGS` to completion (cwd: a temp folder, so nothing depends on the repo as cwd). */
export function dw(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [DW, ...args], { cwd: opts.cwd ?? tmpdir(), env: { ...process.env, DW_DATA: '', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(c);
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('error', reject);
    c.on('close', (code) => { children.delete(c); resolve({ code, stdout, stderr }); });
    c.stdin.end(opts.input ?? '');
  });
}

export interface Server {
  proc: ChildProcess;
  url: string;
  sftpPort: number;
  password?: string;
  stderr: () => string;
  stdout: () => string;
  /** SIGTERM, resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash), resolves when the process is gone. */
  kill(): Promise<void>;
}

/** The port `dw serve --iscsi 127.0.0.1:0` bound, read from its banner ("iSCSI: 127.0.0.1 port N"); NaN without one. */
export function iscsiPort(s: Server): number {
  return Number(/iSCSI:\s+127\.0\.0\.1 port (\d+)/.exec(s.stderr())?.[1]);
}

/** Starts `dw serve` on high ports picked by the kernel and waits for its banner. */
export function serve(dir: string, extra: string[] = []): Promise<Server> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [DW, 'serve', '--data', dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0', ...extra], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '', err = '';
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => { children.delete(proc); res(code); }));
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`serve did not start in time:\n${err}\n${out}`)); }, 60_000);
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => {
      err += d;
      if (!/Stop: /.test(err)) return;
      clearTimeout(timer);
      const url = /WebDAV:\s+(\S+)/.exec(err)?.[1];
      const sftpPort = Number(/SFTP:\s+\S+ port (\d+)/.exec(err)?.[1]);
      const password = /First user created: admin, password (\S+)/.exec(err)?.[1];
      if (!url) { reject(new Error(`no URL in banner:\n${err}`)); return; }
      resolve({
        proc, url, sftpPort, ...(password ? { password } : {}),
        stderr: () => err, stdout: () => out,
        stop: async () => { proc.kill('SIGTERM'); return exited; },
        kill: async () => { proc.kill('SIGKILL'); await exited; },
      });
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code} before its banner:\n${err}\n${out}`)); });
  });
}

/** curl with the body and status code split apart. */
export function curl(args: string[]): { code: number | null; body: string; status: string } {
  const r = spawnSync('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'utf8', timeout: 60_000 });
  const i = r.stdout.lastIndexOf('\n');
  return { code: r.status, body: r.stdout.slice(0, i), status: r.stdout.slice(i + 1) };
}

const SSH_OPTS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'LogLevel=ERROR'];

/** OpenSSH `sftp` with a password (sshpass), commands on stdin (batch mode would refuse passwords). */
export function sftpCommands(port: number, user: string, password: string, commands: string, cwd?: string): SpawnSyncReturns<string> {
  return spawnSync('sshpass', ['-p', password, 'sftp', '-P', String(port), ...SSH_OPTS, `${user}@127.0.0.1`],
    { encoding: 'utf8', timeout: 900_000, input: commands, maxBuffer: 64 << 20, ...(cwd ? { cwd } : {}) });
}

/** lftp over SFTP (it keeps symlinks in `mirror`), with the same host-key options as sftp. */
export function lftp(port: number, user: string, password: string, script: string): SpawnSyncReturns<string> {
  const connect = `ssh -a -x ${SSH_OPTS.join(' ')}`;
  const full = `set sftp:connect-program "${connect}"; set net:max-retries 1; set net:timeout 30; set cmd:fail-exit yes; open -u ${user},${password} -p ${port} sftp://127.0.0.1; ${script}`;
  return spawnSync('lftp', ['-c', full], { encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
}

/** A string quoted for a curl config file. */
function curlQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** '/a b/c' → '/a%20b/c' (each path segment percent-encoded). */
export function urlPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * Uploads a local tree's directories and regular files (not symlinks) by WebDAV with one curl
 * process: MKCOL for every directory in order, then PUT of every file, 8 at a time
 * (`--parallel`). Returns the HTTP status of every request; each should be 201 or 204.
 */
export function curlUploadTree(base: string, user: string, password: string, dirs: string[], files: [local: string, remote: string][]): { statuses: string[]; stderr: string } {
  const head = `user = ${curlQuote(`${user}:${password}`)}\nsilent\nshow-error\noutput = "/dev/null"\nwrite-out = "%{http_code}\\n"\n`;
  const url = (p: string) => `url = ${curlQuote(new URL(urlPath(p), base).href)}\n`;
  const run = (args: string[], config: string) => spawnSync('curl', [...args, '-K', '-'], { input: config, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
  const mk = run([], dirs.map((d) => `${head}request = "MKCOL"\n${url(d)}`).join('next\n'));
  const put = run(['--parallel', '--parallel-max', '8'], files.map(([l, r]) => `${head}upload-file = ${curlQuote(l)}\n${url(r)}`).join('next\n'));
  return { statuses: (mk.stdout + put.stdout).split('\n').filter(Boolean), stderr: mk.stderr + put.stderr };
}

/**
 * Downloads a tree by WebDAV with curl: one PROPFIND (Depth: infinity) lists it, then every
 * file is fetched by GET, 8 at a time (`--parallel`). Returns the HTTP status of every GET.
 */
export async function curlDownloadTree(base: string, user: string, password: string, remoteDir: string, localDir: string): Promise<{ statuses: string[]; stderr: string }> {
  const { XMLParser } = await import('fast-xml-parser');
  const { mkdirSync } = await import('node:fs');
  const list = spawnSync('curl', ['-sS', '-u', `${user}:${password}`, '-X', 'PROPFIND', '-H', 'Depth: infinity', new URL(urlPath(remoteDir) + '/', base).href],
    { encoding: 'utf8', timeout: 900_000, maxBuffer: 256 << 20 });
  const doc = new XMLParser({ removeNSPrefix: true, isArray: (name) => name === 'response' || name === 'propstat' }).parse(list.stdout);
  const prefix = remoteDir.replace(/\/$/, '');
  const files: [string, string][] = [];
  for (const r of doc.multistatus?.response ?? []) {
    const path = decodeURIComponent(String(r.href)).replace(/\/$/, '');
    const rel = path.slice(prefix.length).replace(/^\//, '');
    const isDir = (r.propstat as { prop?: { resourcetype?: unknown } }[]).some((p) => typeof p.prop?.resourcetype === 'object' && p.prop.resourcetype !== null && 'collection' in p.prop.resourcetype);
    if (isDir) mkdirSync(join(localDir, rel), { recursive: true });
    else files.push([path, join(localDir, rel)]);
  }
  const head = `user = ${curlQuote(`${user}:${password}`)}\nsilent\nshow-error\nwrite-out = "%{http_code}\\n"\n`;
  const get = spawnSync('curl', ['--parallel', '--parallel-max', '8', '-K', '-'], {
    input: files.map(([r, l]) => `${head}url = ${curlQuote(new URL(urlPath(r), base).href)}\noutput = ${curlQuote(l)}\n`).join('next\n'),
    encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20,
  });
  return { statuses: get.stdout.split('\n').filter(Boolean), stderr: list.stderr + get.stderr };
}
