/**
 * Mounting the VFS through the kernel with our libfuse3 binding (native/fuse3): loads the addon,
 * clears a stale mount left by a killed process (ENOTCONN on the mount point), mounts, and
 * unmounts cleanly on close(). Errors say what to install or fix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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
  log?: Logger;
}

export interface FuseMount {
  mountpoint: string;
  /** Unmounts (waits for the FUSE thread). Idempotent. */
  close(): Promise<void>;
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
