/**
 * MOUNT version 3 (RFC 1813 appendix I): arguments and results of NULL, MNT, DUMP, UMNT,
 * UMNTALL and EXPORT.
 */
import { XdrError, type XdrReader, XdrWriter } from './xdr.js';

export const MOUNT_PROG = 100005;
export const MOUNT_VERS = 3;
export const MOUNT_PROC = { NULL: 0, MNT: 1, DUMP: 2, UMNT: 3, UMNTALL: 4, EXPORT: 5 } as const;
/** MNTPATHLEN, MNTNAMLEN, FHSIZE3. */
export const MNTPATHLEN = 1024;
export const MNTNAMLEN = 255;
export const FHSIZE3 = 64;

/** mountstat3. */
export const MNT3 = {
  OK: 0, ERR_PERM: 1, ERR_NOENT: 2, ERR_IO: 5, ERR_ACCES: 13, ERR_NOTDIR: 20, ERR_INVAL: 22,
  ERR_NAMETOOLONG: 63, ERR_NOTSUPP: 10004, ERR_SERVERFAULT: 10006,
} as const;

/** dirpath argument of MNT and UMNT. */
export function decodeDirpath(r: XdrReader): string {
  const p = r.string(MNTPATHLEN, 'dirpath');
  r.end('dirpath');
  return p;
}

export function encodeDirpath(p: string): Buffer {
  return new XdrWriter(8 + p.length).string(p).bytes();
}

/** mountres3: on MNT3_OK the root handle and the auth flavors the server accepts. */
export function encodeMntResult(status: number, fh?: Uint8Array, flavors: readonly number[] = []): Buffer {
  const w = new XdrWriter(96).uint(status);
  if (status === MNT3.OK) {
    if (!fh) throw new RangeError('MNT3_OK needs a handle');
    w.opaque(fh).array(flavors, (x, f) => x.uint(f));
  }
  return w.bytes();
}

export function decodeMntResult(r: XdrReader): { status: number; fh?: Buffer; flavors?: number[] } {
  const status = r.uint('mountstat3');
  if (status !== MNT3.OK) return { status };
  return { status, fh: r.opaque(FHSIZE3, 'fhandle3'), flavors: r.array(64, (x) => x.uint('flavor'), 'auth_flavors') };
}

export interface MountEntry {
  hostname: string;
  directory: string;
}

/** mountlist (DUMP result). */
export function encodeMountList(list: readonly MountEntry[]): Buffer {
  const w = new XdrWriter(64);
  for (const m of list) w.bool(true).string(m.hostname).string(m.directory);
  return w.bool(false).bytes();
}

export interface ExportEntry {
  dir: string;
  groups: string[];
}

/** exports (EXPORT result). */
export function encodeExports(list: readonly ExportEntry[]): Buffer {
  const w = new XdrWriter(64);
  for (const e of list) {
    w.bool(true).string(e.dir);
    for (const g of e.groups) w.bool(true).string(g);
    w.bool(false);
  }
  return w.bool(false).bytes();
}

/** Longest list a decoder accepts. */
const MAX_LIST = 4096;

export function decodeExports(r: XdrReader): ExportEntry[] {
  const out: ExportEntry[] = [];
  while (r.bool('exports')) {
    if (out.length >= MAX_LIST) throw new XdrError('exports list too long');
    const dir = r.string(MNTPATHLEN, 'ex_dir');
    const groups: string[] = [];
    while (r.bool('groups')) {
      if (groups.length >= MAX_LIST) throw new XdrError('groups list too long');
      groups.push(r.string(MNTNAMLEN, 'gr_name'));
    }
    out.push({ dir, groups });
  }
  return out;
}
