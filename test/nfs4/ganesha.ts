/**
 * A factory for nfs4Suite that runs nfs-ganesha (Debian nfs-ganesha + nfs-ganesha-vfs, VFS FSAL)
 * on 127.0.0.1 with its export and state under a temporary directory. Needs root (ganesha
 * opens files by handle). `graceful` starts it with a grace period after restarts; the first
 * start is always without one (Graceless), so the other tests do not wait.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Nfs4Server } from './suite.js';

/** Known departures of nfs-ganesha 4.x from RFC 8881 (see README.md). */
export const GANESHA_DEVIATIONS: ReadonlySet<string> = new Set<string>(['op-not-in-session-empty-resarray', 'close-of-closed-stateid-ok', 'write-after-downgrade-ok']);

export function ganeshaAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'nfs-ganesha needs root';
  if (spawnSync('sh', ['-c', 'command -v ganesha.nfsd'], { encoding: 'utf8' }).status !== 0) return 'ganesha.nfsd is not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)';
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nfs-ganesha did not listen on ${port} within ${ms} ms`);
    await sleep(100);
  }
}

export interface GaneshaOptions { lease?: number; grace?: number; graceful?: boolean }

export async function startGanesha(o: GaneshaOptions = {}): Promise<Nfs4Server> {
  const lease = o.lease ?? 10;
  const grace = o.grace ?? lease;
  const dir = await mkdtemp(join(tmpdir(), 'nfs4-ganesha-'));
  const exp = join(dir, 'export');
  await mkdir(exp, { mode: 0o777 });
  await mkdir(join(dir, 'recov'));
  const port = await freePort();
  const conf = (graceless: boolean) => [
    `NFS_CORE_PARAM { Bind_addr = 127.0.0.1; NFS_Port = ${port}; Protocols = 4; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }`,
    'NFS_KRB5 { Active_krb5 = false; }',
    `NFSv4 { Graceless = ${graceless}; Lease_Lifetime = ${lease}; Grace_Period = ${grace}; RecoveryBackend = fs; RecoveryRoot = ${join(dir, 'recov')}; Minor_Versions = 0, 1, 2; }`,
    `EXPORT { Export_Id = 1; Path = ${exp}; Pseudo = /export; Access_Type = RW; Squash = No_Root_Squash; SecType = sys; Protocols = 4; Transports = TCP; FSAL { Name = VFS; } }`,
    'LOG { Default_Log_Level = EVENT; }',
    '',
  ].join('\n');
  let child: ChildProcess | undefined;
  const start = async (graceless: boolean) => {
    await writeFile(join(dir, 'ganesha.conf'), conf(graceless));
    child = spawn('ganesha.nfsd', ['-F', '-f', join(dir, 'ganesha.conf'), '-L', join(dir, 'ganesha.log'), '-p', join(dir, 'ganesha.pid'), '-N', 'NIV_EVENT'], { stdio: 'ignore' });
    child.on('error', () => {});
    await waitPort(port, 15_000);
  };
  const stop = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await Promise.race([gone, sleep(10_000).then(() => { c.kill('SIGKILL'); return gone; })]);
  };
  await start(true);
  const locks: ChildProcess[] = [];
  const hasPython = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).status === 0;
  return {
    host: '127.0.0.1',
    port,
    root: '/export',
    leaseSeconds: lease,
    graceful: o.graceful ?? false,
    restart: async () => {
      await stop('SIGKILL'); // a crash: state records stay in RecoveryRoot
      await start(!(o.graceful ?? false));
    },
    writeFile: async (path, bytes) => {
      const p = join(exp, ...path.split('/'));
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, bytes);
    },
    // A POSIX lock by a local process (python3 fcntl.lockf): ganesha's VFS FSAL takes its locks
    // on the same files with fcntl, so the kernel reports the conflict.
    lockOther: hasPython ? async (path, startAt, end) => {
      const p = join(exp, ...path.split('/'));
      const script = 'import fcntl,os,sys\nf=os.open(sys.argv[1],os.O_RDWR)\nfcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,int(sys.argv[3])-int(sys.argv[2]),int(sys.argv[2]),0)\nprint("locked",flush=True)\nsys.stdin.read()\n';
      const c = spawn('python3', ['-c', script, p, String(startAt), String(end)], { stdio: ['pipe', 'pipe', 'inherit'] });
      locks.push(c);
      await new Promise<void>((resolve, reject) => {
        c.stdout!.once('data', () => resolve());
        c.once('exit', (code) => reject(new Error(`local lock process exited with ${code}`)));
      });
      return async () => {
        const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.stdin!.end();
        await gone;
      };
    } : undefined,
    deviations: GANESHA_DEVIATIONS,
    close: async () => {
      for (const c of locks) if (c.exitCode === null) c.kill('SIGKILL');
      await stop('SIGTERM');
      if (process.env.NFS4_KEEP_LOG) console.log(await readFile(join(dir, 'ganesha.log'), 'utf8').catch(() => ''));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
