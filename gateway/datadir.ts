/**
 * The data folder DIR and what lives in it:
 *
 *   DIR/meta/                   RocksDB metadata (users, inodes, block table, pool state)
 *   DIR/devices/d0 .. d5        the embedded default pool's devices (rs:4+2)
 *   DIR/ssh_host_ed25519_key    SFTP host key, generated on the first start, mode 0600, kept
 *   DIR/admin.sock              admin socket while `dw serve` runs
 *   DIR/dw.pid                  pid of the running server
 *   DIR/config.json             optional settings (see config.ts)
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CliError, UsageError } from './errors.js';

/** Longest unix socket path that works everywhere (sun_path is 108 bytes on Linux). */
const MAX_SOCKET_PATH = 100;

export interface DataDir {
  /** Absolute path of DIR. */
  root: string;
  meta: string;
  devices: string;
  hostKey: string;
  socket: string;
  pidFile: string;
  config: string;
}

/** The paths under DIR (absolute). Long DIRs get their socket in the temp folder, named by a hash of DIR. */
export function dataDir(dir: string): DataDir {
  const root = resolve(dir);
  let socket = join(root, 'admin.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    socket = join(tmpdir(), `dw-${createHash('sha256').update(root).digest('hex').slice(0, 16)}.sock`);
  }
  return {
    root,
    meta: join(root, 'meta'),
    devices: join(root, 'devices'),
    hostKey: join(root, 'ssh_host_ed25519_key'),
    socket,
    pidFile: join(root, 'dw.pid'),
    config: join(root, 'config.json'),
  };
}

/**
 * Throws CliError if the admin socket lives in the shared temp folder (long DIR) and belongs to
 * another user: admin requests carry passwords, so they go only to a socket this user owns.
 */
export function checkSocketOwner(d: DataDir): void {
  if (d.socket.startsWith(`${d.root}/`) || typeof process.getuid !== 'function') return;
  let st;
  try {
    st = lstatSync(d.socket);
  } catch {
    return;
  }
  if (st.uid !== process.getuid()) {
    throw new CliError(`the admin socket ${d.socket} belongs to another user (uid ${st.uid}); refusing to send admin requests to it`, 'EACCES');
  }
}

/** The default device folders DIR/devices/d0..d(n-1). */
export function defaultDevices(d: DataDir, n = 6): string[] {
  return Array.from({ length: n }, (_, i) => join(d.devices, `d${i}`));
}

/** Throws UsageError unless DIR exists and is a folder with metadata in it (admin commands). */
export function requireExistingDataDir(d: DataDir): void {
  let st;
  try {
    st = statSync(d.root);
  } catch {
    throw new UsageError(`no data folder at ${d.root}: pass --data DIR (the folder given to \`dw serve --data DIR\`), or create one with \`dw serve --data ${d.root}\``);
  }
  if (!st.isDirectory()) throw new UsageError(`${d.root} is not a folder: pass --data DIR`);
  if (!existsSync(d.meta)) {
    throw new UsageError(`${d.root} holds no DataWarehouse metadata (no meta/ folder): pass the --data DIR that \`dw serve\` uses, or run \`dw serve --data ${d.root}\` once`);
  }
}

/** Creates DIR (and parents) for `dw serve`; UsageError if it exists and is not a folder. */
export async function ensureDataDir(d: DataDir): Promise<void> {
  try {
    await mkdir(d.root, { recursive: true });
  } catch (err) {
    throw new UsageError(`cannot create the data folder ${d.root}: ${(err as Error).message}`);
  }
}

/**
 * The SFTP host key: read DIR/ssh_host_ed25519_key, or on the first start write `generate()`'s
 * key there with mode 0600 (O_EXCL, so two starts never both write). Tightens a looser mode.
 */
export async function loadOrCreateHostKey(d: DataDir, generate: () => Buffer): Promise<{ key: Buffer; created: boolean }> {
  try {
    const key = await readFile(d.hostKey);
    const st = await stat(d.hostKey);
    if ((st.mode & 0o077) !== 0) await chmod(d.hostKey, 0o600);
    return { key, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = generate();
  const fh = await open(d.hostKey, 'wx', 0o600);
  try {
    await fh.writeFile(key);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { key, created: true };
}

/** Writes DIR/dw.pid. */
export async function writePid(d: DataDir): Promise<void> {
  await writeFile(d.pidFile, `${process.pid}\n`);
}

/** Removes DIR/dw.pid if it still names this process. */
export async function removePid(d: DataDir): Promise<void> {
  if (readPid(d) === process.pid) await unlink(d.pidFile).catch(() => {});
}

/** The pid in DIR/dw.pid if that process is alive, else undefined. */
export function readPid(d: DataDir): number | undefined {
  try {
    const pid = Number(readFileSync(d.pidFile, 'utf8').trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? Number(readFileSync(d.pidFile, 'utf8').trim()) : undefined;
  }
}
