/**
 * Mounting the VFS through the kernel with our libfuse3 binding (native/fuse3): loads the addon,
 * clears a stale mount left by a killed process (ENOTCONN on the mount point), mounts, and
 * unmounts cleanly on close(). Errors say what to install or fix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Vfs } from '../../vfs/types.js';
import { FuseSession, type Replier } from './session.js';

interface Binding extends Replier {
  mount(mountpoint: string, options: string[], handler: (op: number, req: unknown, n: number[], s1: string, s2: string, data: Buffer | undefined, who: number[]) => void): unknown;
  unmount(session: unknown): void;
  notifyInode(session: unknown, ino: number): void;
  notifyEntry(session: unknown, parent: number, name: string): void;
}

/** Where `npm run build:fuse` (and the install step) puts the addon. */
export const ADDON_PATH = fileURLToPath(new URL('../../native/fuse3/build/Release/dwfuse3.node', import.meta.url));

let binding: Binding | undefined;

/** The native binding, or an Error that says how to build it. */
export function loadBinding(): Binding {
  if (binding) return binding;
  if (!existsSync(ADDON_PATH)) {
    throw new Error('FUSE support is not built: install Debian\'s libfuse3-dev and fuse3 (apt-get install -y libfuse3-dev fuse3), then run npm run build:fuse');
  }
  binding = createRequire(import.meta.url)(ADDON_PATH) as Binding;
  return binding;
}

export interface FuseMountOptions {
  vfs: Vfs;
  mountpoint: string;
  /** Let other users than the mounting one in (FUSE's allow_other). */
  allowOther?: boolean;
  /**
   * Let the kernel check permissions from the mode bits (FUSE's default_permissions); the VFS
   * checks them in any case, but without this the kernel skips the search permission of cached
   * directories. On by default with allowOther (several users), off otherwise.
   */
  defaultPermissions?: boolean;
  /** Attribute and name cache time, seconds. */
  timeout?: number;
  /**
   * The kernel's read-ahead on the mount, KiB (its backing device's read_ahead_kb in sysfs;
   * default 4096: four 1 MiB records in flight). The kernel starts FUSE mounts at 128 KiB,
   * which leaves a sequential reader waiting on one small request at a time. Needs root.
   */
  readaheadKib?: number;
  log?: Logger;
}

export interface FuseMount {
  mountpoint: string;
  /** Unmounts (waits for the FUSE thread). Idempotent. */
  close(): Promise<void>;
}

/** The "major:minor" of the file system mounted at mountpoint (/proc/self/mountinfo), or undefined. */
function deviceOf(mountpoint: string): string | undefined {
  const esc = mountpoint.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  let found: string | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === esc) found = f[2]; // the last one: the newest mount on that point
  }
  return found;
}

/** Sets the mount's read-ahead (sysfs bdi read_ahead_kb); returns an error message, or '' when set. */
function setReadahead(mountpoint: string, kib: number): string {
  try {
    const dev = deviceOf(mountpoint);
    if (!dev) return 'mount not found in /proc/self/mountinfo';
    writeFileSync(`/sys/class/bdi/${dev}/read_ahead_kb`, String(kib));
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

/** Unmounts a mount point whose FUSE process is gone ("Transport endpoint is not connected"). Returns whether it did. */
export function clearStaleMount(mountpoint: string): boolean {
  try {
    statSync(mountpoint);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') return false;
  }
  for (const [cmd, args] of [['fusermount3', ['-u', '-z', mountpoint]], ['umount', ['-l', mountpoint]]] as const) {
    if (spawnSync(cmd, args).status === 0) return true;
  }
  throw new Error(`${mountpoint} is a stale FUSE mount and could not be unmounted (try: umount -l ${mountpoint})`);
}

/** Mounts the VFS at `mountpoint`. Throws with a clear message if it cannot. */
export async function mountFuse(o: FuseMountOptions): Promise<FuseMount> {
  const b = loadBinding();
  if (clearStaleMount(o.mountpoint)) o.log?.warn({ mountpoint: o.mountpoint }, 'fuse: cleared a stale mount left by a killed process');
  const st = statSync(o.mountpoint, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new Error(`mount point ${o.mountpoint} is not a directory (create it first)`);
  const real = realpathSync(o.mountpoint); // as /proc/self/mountinfo will name it
  const opts = ['fsname=dw', 'subtype=dw'];
  if (o.allowOther) opts.push('allow_other');
  if (o.defaultPermissions ?? o.allowOther) opts.push('default_permissions');
  let handle: unknown;
  const notifier = { inode: (ino: number) => b.notifyInode(handle, ino), entry: (parent: number, name: string) => b.notifyEntry(handle, parent, name) };
  const session = new FuseSession(o.vfs, b, { timeout: o.timeout ?? 1, log: o.log, notifier });
  try {
    handle = b.mount(o.mountpoint, ['-o', opts.join(',')], (op, req, n, s1, s2, data, who) => session.handle(op, req, n, s1, s2, data, who));
  } catch (err) {
    session.dispose();
    throw err;
  }
  // (Not stat() of the mount point here: the kernel would ask this thread, which is waiting.)
  const ra = setReadahead(real, o.readaheadKib ?? 4096);
  if (ra) o.log?.warn({ mountpoint: o.mountpoint, reason: ra }, 'fuse: read-ahead left at the kernel default');
  let closed = false;
  return {
    mountpoint: o.mountpoint,
    async close() {
      if (closed) return;
      closed = true;
      session.dispose();
      await session.drain(); // every request answered before the session goes
      b.unmount(handle);
    },
  };
}
