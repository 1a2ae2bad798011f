/**
 * Admin methods for block volumes (vfs/volumes.ts; issue 8), run like the others of admin.ts:
 * inside `dw serve` through the admin socket (sharing the server's volumes, so an open volume
 * is EBUSY to delete and a resize reaches its iSCSI sessions) or on a stopped data folder.
 *
 *   volume.create { name, size, block?, thick? }  → VolumeInfo   (size, block: bytes, or text such as '100G', '64K')
 *   volume.resize { name, size }                  → VolumeInfo
 *   volume.delete { name, recursive? }            → { name }
 *   volume.list                                   → VolumeInfo[]
 *   volume.snapshot { name: 'VOL@SNAP' }          → { volume, name, created }
 *   volume.snapshot.delete { name: 'VOL@SNAP' }   → { volume, name }
 *   volume.clone { source: 'VOL@SNAP', name }     → VolumeInfo
 *   volume.rollback { name: 'VOL@SNAP', destroyNewer? } → { volume, name, destroyed[] }
 *
 * Errors: UsageError for bad names and sizes (what to write), CliError with the errno name
 * (ENOENT, EEXIST, EBUSY, ENOSPC…) otherwise.
 */
import { Errno, VfsError } from '../vfs/errno.js';
import type { VolumeInfo } from '../vfs/types.js';
import type { VolumeStore } from '../vfs/volumes.js';
import type { AdminEnv } from './admin.js';
import { formatBytes, parseSize } from './args.js';
import { CliError, UsageError } from './errors.js';

const VOLUME_METHODS = ['volume.create', 'volume.resize', 'volume.delete', 'volume.list', 'volume.snapshot', 'volume.snapshot.delete', 'volume.clone', 'volume.rollback'] as const;

/** Whether `method` is one of this file's. */
export function isVolumeMethod(method: string): boolean {
  return (VOLUME_METHODS as readonly string[]).includes(method);
}

/** args.ts parseSize (the one size parser: binary units), NaN for what it refuses (the caller says what to write). */
function sizeOrNaN(flag: string, text: string): number {
  try {
    return parseSize(flag, text);
  } catch {
    return NaN;
  }
}

/**
 * A volume size from the command line or the socket: bytes, or text with binary units
 * ('100G', '512M', '64K', '1T'; 'G' = GiB), a whole number of 4 KiB units. UsageError
 * saying what to write otherwise.
 */
export function parseVolumeSize(flag: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? sizeOrNaN(flag, v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n % 4096) {
    throw new UsageError(`${flag} wants a size in whole 4 KiB units, like 100G, 512M, 64K or 1T (binary units: 1G = 1024 MiB); got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A --block size: a power of two from 4K to 1M. */
export function parseBlockSize(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? sizeOrNaN('--block', v) : NaN;
  if (!Number.isSafeInteger(n) || n < 4096 || n > 1 << 20 || (n & (n - 1)) !== 0) {
    throw new UsageError(`--block wants a power of two from 4K to 1M (4K, 8K, 16K, 32K, 64K, 128K, 256K, 512K, 1M); got ${JSON.stringify(v)}`);
  }
  return n;
}

function name(params: Record<string, unknown>, key: string, what: string): string {
  const v = params[key];
  if (typeof v !== 'string' || !v) throw new UsageError(`missing ${what}`);
  if (v.length > 200) throw new UsageError(`${what} is too long`);
  return v;
}

/** 'VOL@SNAP' with both parts, or a UsageError. */
function snapRef(params: Record<string, unknown>, key: string, usage: string): { vol: string; snap: string } {
  const ref = name(params, key, `VOLUME@SNAPSHOT (${usage})`);
  const at = ref.indexOf('@');
  if (at < 0) throw new UsageError(`name the snapshot as VOLUME@SNAPSHOT (${usage}); got "${ref}"`);
  return { vol: ref.slice(0, at), snap: ref.slice(at + 1) }; // (the names are checked by vfs/volumes.ts)
}

/** EINVAL → UsageError (its message says what is wrong); other VfsErrors → CliError with the errno name. */
function asCli(err: unknown): never {
  if (err instanceof VfsError && err.errno === Errno.EINVAL) throw new UsageError(err.message);
  if (err instanceof VfsError) throw new CliError(err.message, err.code);
  throw err;
}

/** The data folder's volumes (the server's own inside `dw serve`). Loaded on use: the CLI starts without the VFS. */
async function volumes(env: AdminEnv): Promise<VolumeStore> {
  const { openVolumes } = await import('../vfs/volumes.js');
  return openVolumes(await env.vfs());
}

export async function runVolumeAdmin(env: AdminEnv, method: string, params: Record<string, unknown>): Promise<unknown> {
  switch (method) {
    case 'volume.create': {
      const n = name(params, 'name', 'volume NAME (dw volume create NAME --size 100G)');
      const sizeBytes = parseVolumeSize('--size', params.size);
      const recordSize = params.block === undefined || params.block === null ? undefined : parseBlockSize(params.block);
      if (params.thick !== undefined && typeof params.thick !== 'boolean') throw new UsageError('thick must be true or false');
      return (await volumes(env)).create(n, { sizeBytes, ...(recordSize ? { recordSize } : {}), thick: params.thick === true }).catch(asCli);
    }
    case 'volume.resize': {
      const n = name(params, 'name', 'volume NAME (dw volume resize NAME --size 200G)');
      return (await volumes(env)).resize(n, parseVolumeSize('--size', params.size)).catch(asCli);
    }
    case 'volume.delete': {
      const n = name(params, 'name', 'volume NAME (dw volume delete NAME)');
      await (await volumes(env)).delete(n, { recursive: params.recursive === true }).catch((e: unknown) => {
        if (e instanceof VfsError && e.errno === Errno.EBUSY && /has snapshots/.test(e.message)) throw new CliError(`${e.message.replace('delete recursively', 'use --recursive')}`, 'EBUSY');
        return asCli(e);
      });
      return { name: n };
    }
    case 'volume.list':
      return (await volumes(env)).list().catch(asCli);
    case 'volume.snapshot': {
      const { vol, snap } = snapRef(params, 'name', 'dw volume snapshot VOL@SNAP');
      const r = await (await volumes(env)).snapshot(vol, snap).catch(asCli);
      return { volume: vol, name: r.name, created: r.created };
    }
    case 'volume.snapshot.delete': {
      const { vol, snap } = snapRef(params, 'name', 'dw volume snapshot-delete VOL@SNAP');
      await (await volumes(env)).deleteSnapshot(vol, snap).catch(asCli);
      return { volume: vol, name: snap };
    }
    case 'volume.clone': {
      const { vol, snap } = snapRef(params, 'source', 'dw volume clone VOL@SNAP NEW');
      const n = name(params, 'name', 'the new volume NAME (dw volume clone VOL@SNAP NEW)');
      return (await volumes(env)).clone(`${vol}@${snap}`, n).catch(asCli);
    }
    case 'volume.rollback': {
      const { vol, snap } = snapRef(params, 'name', 'dw volume rollback VOL@SNAP [--destroy-newer]');
      const r = await (await volumes(env)).rollback(vol, snap, { destroyNewer: params.destroyNewer === true }).catch((e: unknown) => {
        if (e instanceof VfsError && e.errno === Errno.EBUSY && /newer than/.test(e.message)) throw new CliError(e.message.replace('roll back destroying newer ones', 'roll back with --destroy-newer'), 'EBUSY');
        return asCli(e);
      });
      return { volume: vol, name: snap, destroyed: r.destroyed };
    }
    default:
      throw new UsageError(`unknown admin method "${method}"`);
  }
}

/** `dw volume list` as a table: name, size, block, used, origin, snapshots (each with the space only it holds). */
export function formatVolumes(list: VolumeInfo[]): string[] {
  if (!list.length) return ['no volumes (make one: dw volume create NAME --size 100G)'];
  const rows = [['NAME', 'SIZE', 'BLOCK', 'USED', 'ORIGIN', 'SNAPSHOTS']];
  for (const v of list) {
    rows.push([
      v.name, formatBytes(v.sizeBytes), formatBytes(v.recordSize), `${formatBytes(v.usedBytes)}${v.thick ? ' (thick)' : ''}`,
      v.origin ?? '-', v.snapshots.length ? v.snapshots.map((s) => (s.heldBytes === undefined ? s.name : `${s.name} (${formatBytes(s.heldBytes)})`)).join(', ') : '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}
