/**
 * Previous Versions: the pool's snapshots as a share's earlier states (MS-SMB2 3.3.5.15.1,
 * 2.2.13.2.7; MS-SMB 2.2.1.1.1 for the @GMT token). A snapshot taken at T is listed by
 * FSCTL_SRV_ENUMERATE_SNAPSHOTS as "@GMT-YYYY.MM.DD-HH.MM.SS" (UTC, whole seconds), and a CREATE
 * reaches the share as it was at T with the SMB2_CREATE_TIMEWARP_TOKEN context ("TWrp", a
 * FILETIME) or with the token as a path component (older clients; any position). The share's
 * folder in the snapshot is /.snapshots/NAME + the share's path, so only snapshots that hold the
 * share's folder are listed: whole-tree snapshots always, `--path` snapshots of a folder that
 * contains the share's. Opens in a snapshot are read-only (writes → ACCESS_DENIED at CREATE).
 */
import type { Ctx, Vfs } from '../../vfs/types.js';
import { VfsError } from '../../vfs/errno.js';
import { SNAPDIR_NAME } from '../../vfs/vfs.js';
import { STATUS, SmbStatusError } from './errors.js';
import type { SmbShare } from './shares.js';
import { gmtToken, parseGmtToken } from './wire/fsctl.js';
import { Reader } from './wire/reader.js';

/** The root inode, where the VFS shows SNAPDIR_NAME (/.snapshots). */
const ROOT_INO = 1;

/** FILETIME (100 ns since 1601) of the Unix epoch. */
const EPOCH_FILETIME = 116444736000000000n;

/** One previous version of a share. */
export interface ShareVersion {
  token: string;
  /** The snapshot's time, whole seconds, ms since the Unix epoch. */
  ms: number;
  snapshot: string;
  /** Components from /.snapshots/NAME down to the share's folder. */
  inside: string[];
}

function components(p: string): string[] {
  return p.split(/[/\\]/).filter((s) => s !== '' && s !== '.');
}

/**
 * The previous versions of `share`, newest first, one per @GMT token (of two snapshots taken in
 * the same second, the newer).
 */
export function shareVersions(vfs: Vfs, share: SmbShare): ShareVersion[] {
  const sharePath = components(share.path);
  const out: ShareVersion[] = [];
  const seen = new Set<string>();
  for (const s of [...vfs.listSnapshots()].reverse()) {
    let inside = sharePath;
    if (s.path !== undefined) {
      const folder = components(s.path);
      if (s.path === '' || folder.length > sharePath.length || folder.some((c, i) => c !== sharePath[i])) continue;
      inside = sharePath.slice(folder.length);
    }
    const token = gmtToken(s.takenMs);
    if (seen.has(token)) continue;
    seen.add(token);
    out.push({ token, ms: Math.floor(s.takenMs / 1000) * 1000, snapshot: s.name, inside });
  }
  return out;
}

/** The tokens FSCTL_SRV_ENUMERATE_SNAPSHOTS lists for `share`, newest first. */
export function shareTokens(vfs: Vfs, share: SmbShare): string[] {
  return shareVersions(vfs, share).map((v) => v.token);
}

/** SMB2_CREATE_TIMEWARP_TOKEN's data (2.2.13.2.7): an 8-byte FILETIME → ms since the Unix epoch. */
export function decodeTimewarp(data: Buffer): number {
  const r = new Reader(data);
  const ft = r.u64('Timestamp');
  return Number((ft - EPOCH_FILETIME) / 10_000n);
}

/** The FILETIME for a time in ms (for clients and tests). */
export function encodeTimewarp(ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(ms) * 10_000n + EPOCH_FILETIME);
  return b;
}

/**
 * Takes @GMT tokens out of a CREATE name ('\\'-separated): the name without them and the time of
 * the last one (undefined when there is none).
 */
export function stripGmtTokens(name: string): { name: string; ms: number | undefined } {
  if (!name.includes('@GMT-')) return { name, ms: undefined };
  let ms: number | undefined;
  const kept = name.split('\\').filter((c) => {
    const t = parseGmtToken(c);
    if (t === undefined) return true;
    ms = t;
    return false;
  });
  return { name: kept.join('\\'), ms };
}

/**
 * The inode of `share`'s folder as it was at `ms` (matched to the second against the listed
 * tokens). Throws OBJECT_NAME_NOT_FOUND when no previous version has that time or the share's
 * folder is not in it (MS-SMB 3.3.5.1.1; MS-SMB2 3.3.5.9.6 and Samba answer the same).
 */
export async function versionRoot(vfs: Vfs, ctx: Ctx, share: SmbShare, ms: number): Promise<number> {
  const token = gmtToken(ms);
  const v = shareVersions(vfs, share).find((x) => x.token === token);
  if (!v) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  try {
    let ino = (await vfs.lookup(ctx, ROOT_INO, SNAPDIR_NAME)).ino;
    ino = (await vfs.lookup(ctx, ino, v.snapshot)).ino;
    for (const c of v.inside) ino = (await vfs.lookup(ctx, ino, c)).ino;
    return ino;
  } catch (err) {
    if (err instanceof VfsError) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    throw err;
  }
}

/**
 * A CREATE's previous version, if it asks for one (a TWrp context, else a @GMT token in the
 * name): the folder to walk from and the name without tokens. Errors as versionRoot; a TWrp
 * context of other than 8 bytes → WireError (INVALID_PARAMETER).
 */
export async function versionOf(vfs: Vfs, ctx: Ctx, share: SmbShare, req: { name: string; contexts: readonly { name: string; data: Buffer }[] })
  : Promise<{ root: number; name: string } | undefined> {
  const tw = req.contexts.find((x) => x.name === 'TWrp');
  const stripped = stripGmtTokens(req.name);
  if (tw && tw.data.length !== 8) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const ms = tw ? decodeTimewarp(tw.data) : stripped.ms;
  if (ms === undefined) return undefined;
  return { root: await versionRoot(vfs, ctx, share, ms), name: stripped.name };
}
