/**
 * Shared set-up for the SFTP end-to-end tests: a memory VFS, a real SFTP server on 127.0.0.1
 * (port 0), an Authenticator test double (one user, one password, one key) and a runner for
 * OpenSSH's `sftp` client in batch mode.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryVfs, ROOT_CTX, type Authenticator, type Ctx, type Fh, type PathVfs, type Principal, type VfsInstance } from '../../vfs/index.js';
import { generateHostKey, startSftpServer, type SftpServer } from '../../protocols/sftp/index.js';

export const USER = 'alice';
export const PASSWORD = 'correct horse battery staple';
export const PRINCIPAL: Principal = { name: USER, uid: 1000, gid: 1000, groups: [] };

/** A real Authenticator: accepts one user with one password or one public key blob. */
export class OneUserAuth implements Authenticator {
  calls: string[] = [];
  constructor(private readonly keyBlob: Buffer) {}
  async checkPassword(user: string, password: string): Promise<Principal | null> {
    this.calls.push(`password:${user}`);
    return user === USER && password === PASSWORD ? PRINCIPAL : null;
  }
  async checkPublicKey(user: string, algo: string, key: Buffer): Promise<Principal | null> {
    this.calls.push(`publickey:${user}:${algo}`);
    return user === USER && key.equals(this.keyBlob) ? PRINCIPAL : null;
  }
}

/**
 * Wraps a PathVfs so that file handles opened through it (paths.open) and released through its
 * `vfs` (vfs.release) are tracked: `open` holds the handles not yet released.
 */
export function trackHandles(paths: PathVfs): { paths: PathVfs; open: Set<Fh> } {
  const open = new Set<Fh>();
  const inner = paths.vfs;
  const vfs = new Proxy(inner, {
    get(target, key) {
      if (key === 'release') {
        return async (ctx: Ctx, fh: Fh) => {
          open.delete(fh);
          return target.release(ctx, fh);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const wrapped = Object.create(paths, {
    vfs: { value: vfs },
    open: {
      value: async (...args: Parameters<PathVfs['open']>) => {
        const r = await paths.open(...args);
        open.add(r.fh);
        return r;
      },
    },
  }) as PathVfs;
  return { paths: wrapped, open };
}

export interface Harness {
  dir: string;
  port: number;
  /** Client private key file (OpenSSH format), accepted for USER. */
  keyFile: string;
  /** A second key the server does not know. */
  otherKeyFile: string;
  vfs: VfsInstance;
  /** File handles the server opened and has not released yet. */
  openFiles: Set<Fh>;
  auth: OneUserAuth;
  server: SftpServer;
  close(): Promise<void>;
}

function keygen(file: string): Buffer {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  const pub = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return Buffer.from(pub[1]!, 'base64');
}

export async function startHarness(opts: { maxHandles?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-sftp-'));
  const keyFile = join(dir, 'id_client');
  const otherKeyFile = join(dir, 'id_other');
  const blob = keygen(keyFile);
  keygen(otherKeyFile);
  const vfs = await createMemoryVfs();
  // The export root belongs to the test user, as a home directory would.
  await vfs.paths.setattr(ROOT_CTX, '/', { uid: PRINCIPAL.uid, gid: PRINCIPAL.gid, mode: 0o755 });
  const auth = new OneUserAuth(blob);
  const tracked = trackHandles(vfs.paths);
  const server = await startSftpServer({
    paths: tracked.paths, auth, host: '127.0.0.1', port: 0, hostKeys: [generateHostKey()],
    ...(opts.maxHandles ? { maxHandles: opts.maxHandles } : {}),
  });
  return {
    dir, port: server.port, keyFile, otherKeyFile, vfs, openFiles: tracked.open, auth, server,
    async close() {
      await server.close();
      await vfs.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SftpResult { code: number | null; stdout: string; stderr: string }

const SSH_OPTS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];

/**
 * Runs OpenSSH's `sftp -b` with the given batch commands (a line starting with '-' may fail
 * without stopping the batch). Logs in with the key by default, or with `password` via sshpass.
 * `cwd` is the local directory for put/get.
 */
export function runSftp(h: Harness, batch: string, opts: { password?: string; key?: string; cwd?: string; user?: string; timeoutMs?: number } = {}): Promise<SftpResult> {
  const batchFile = join(h.dir, `batch-${process.hrtime.bigint()}`);
  writeFileSync(batchFile, batch.endsWith('\n') ? batch : `${batch}\n`);
  const target = `${opts.user ?? USER}@127.0.0.1`;
  let cmd: string;
  let args: string[];
  if (opts.password !== undefined) {
    cmd = 'sshpass';
    // BatchMode=no must come before -b, which otherwise turns password prompts off.
    args = ['-p', opts.password, 'sftp', ...SSH_OPTS, '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no',
      '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1', '-b', batchFile, '-P', String(h.port), target];
  } else {
    cmd = 'sftp';
    args = [...SSH_OPTS, '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'IdentitiesOnly=yes',
      '-i', opts.key ?? h.keyFile, '-b', batchFile, '-P', String(h.port), target];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? h.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(batchFile, { force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
