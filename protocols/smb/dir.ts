/**
 * QUERY_DIRECTORY (MS-SMB2 3.3.5.18) on disk shares, and the Windows wildcard match it uses
 * (MS-FSA 2.1.4.4: '*', '?', and the DOS_STAR '<', DOS_QM '>', DOS_DOT '"'), case-insensitive.
 *
 * Each directory open keeps a cursor (files.ts DirCursor): the pattern of the first call (or
 * of a REOPEN), whether '.' and '..' were sent (first, as Windows servers do), the VFS readdir
 * cookie and the entries read but not sent yet. A pattern without wildcards is looked up
 * through `Vfs.lookupCaseless` instead of scanning the folder.
 */
import type { Attr, DirEntry } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { openOf, type DirCursor, type Open } from './files.js';
import { readDos } from './dosattr.js';
import type { Request, Response, SmbConnection } from './session.js';
import { smbAttr } from './writetime.js';
import { fileInfoOf } from './wire/fscc.js';
import { isDirectoryClass, packDirectory, type DirEntryInfo } from './wire/fscc-dir.js';
import { ACCESS } from './wire/security.js';
import { decodeQueryDirectoryRequest, QUERY_DIRECTORY_FLAG, writeOutputBufferResponse } from './wire/files.js';

const WILD = /[*?<>"]/;
/** Entries asked of the VFS per readdir call. */
const BATCH = 512;

/** Upper-case folding per UTF-16 code unit, as Windows compares names (and Vfs.lookupCaseless). */
export function fold(s: string): string {
  let out = '';
  for (const ch of s) {
    const up = ch.toUpperCase();
    out += ch.length === 1 && up.length === 1 ? up : ch;
  }
  return out;
}

/**
 * Does `name` match the Windows expression `pattern` (MS-FSA 2.1.4.4, FsRtlIsNameInExpression)?
 * '*' any run, '?' one character, '>' one character or nothing before a '.' or at the end, '<'
 * any run up to the last '.' (or to the end when there is none), '"' a '.' or nothing at the end.
 * Case-insensitive. '*' and '*.*' match everything.
 */
export function wildcardMatch(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === '*.*' || pattern === '') return true;
  const p = [...fold(pattern)], n = [...fold(name)];
  const lastDot = n.lastIndexOf('.');
  const memo = new Map<number, boolean>();
  const m = (i: number, j: number): boolean => {
    const key = i * (n.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === n.length;
    else {
      const c = p[i]!;
      switch (c) {
        case '*': r = m(i + 1, j) || (j < n.length && m(i, j + 1)); break;
        case '?': r = j < n.length && m(i + 1, j + 1); break;
        case '>': r = (j < n.length && n[j] !== '.' && m(i + 1, j + 1)) || ((j === n.length || n[j] === '.') && m(i + 1, j)); break;
        case '"': r = (j < n.length && n[j] === '.' && m(i + 1, j + 1)) || (j === n.length && m(i + 1, j)); break;
        case '<': r = m(i + 1, j) || (j < n.length && (lastDot < 0 || j < lastDot) && m(i, j + 1)); break;
        default: r = j < n.length && n[j] === c && m(i + 1, j + 1);
      }
    }
    memo.set(key, r);
    return r;
  };
  return m(0, 0);
}

function freshCursor(pattern: string): DirCursor {
  return { pattern: pattern || '*', dots: 0, cookie: 0, pending: [], exhausted: false, returned: false };
}

/** Fills the cursor's pending list with at least `want` matching entries, or until the folder is done. */
async function fill(c: SmbConnection, o: Open, cur: DirCursor, want: number): Promise<void> {
  const vfs = c.fileService!.vfs;
  const ino = o.node.ino;
  while (cur.pending.length < want && !cur.exhausted) {
    if (cur.dots < 2) {
      const name = cur.dots === 0 ? '.' : '..';
      cur.dots++;
      if (!wildcardMatch(cur.pattern, name)) continue;
      const root = await c.fileService!.shareRoot(o.share);
      const target = cur.dots === 1 || ino === root ? ino : o.node.parent;
      const attr = await vfs.getattr(o.ctx, target);
      cur.pending.push({ name, info: fileInfoOf(await smbAttr(vfs, attr), { dos: await readDos(vfs, attr) }) });
      continue;
    }
    if (!WILD.test(cur.pattern)) {
      // One exact (caseless) name: no scan.
      cur.exhausted = true;
      try {
        const r = await vfs.lookupCaseless(o.ctx, ino, cur.pattern);
        cur.pending.push({ name: r.name, info: fileInfoOf(await smbAttr(vfs, r.attr), { dos: await readDos(vfs, r.attr) }) });
      } catch (err) {
        if (!(err instanceof VfsError && (err.errno === Errno.ENOENT || err.errno === Errno.EINVAL || err.errno === Errno.ENAMETOOLONG))) throw err;
      }
      return;
    }
    const batch: DirEntry[] = await vfs.readdir(o.ctx, ino, cur.cookie, BATCH, true);
    if (batch.length === 0) cur.exhausted = true;
    const hits: { name: string; attr: Attr }[] = [];
    for (const e of batch) {
      cur.cookie = e.cookie;
      if (!wildcardMatch(cur.pattern, e.name)) continue;
      const attr = e.attr ?? await vfs.getattr(o.ctx, e.ino).catch(() => undefined);
      if (attr) hits.push({ name: e.name, attr });
    }
    // The DOS bits (one xattr read per entry, dosattr.ts), asked of the VFS side by side.
    const bits = await Promise.all(hits.map((h) => readDos(vfs, h.attr)));
    const shown = await Promise.all(hits.map((h) => smbAttr(vfs, h.attr))); // writetime.ts: no VFS call for ordinary times
    hits.forEach((h, i) => cur.pending.push({ name: h.name, info: fileInfoOf(shown[i]!, { dos: bits[i] }) }));
  }
}

/**
 * QUERY_DIRECTORY. Flags: RESTART_SCANS starts over; INDEX_SPECIFIED is taken as a plain
 * continuation (3.3.5.18 leaves FileIndex to the server: it is not a position this server can
 * seek to, and starting over made a client that sets it with FileIndex 0 — smbtorture's
 * smb2.dir.many — loop forever on the first entries); REOPEN starts over with the new pattern,
 * RETURN_SINGLE_ENTRY answers one entry. Errors: not a folder → INVALID_PARAMETER; no
 * FILE_LIST_DIRECTORY → ACCESS_DENIED; a class fscc-dir.ts does not pack → INVALID_INFO_CLASS;
 * nothing matched the pattern on the first call → NO_SUCH_FILE; the end → NO_MORE_FILES; an
 * OutputBufferLength too small for the next entry → INFO_LENGTH_MISMATCH.
 */
export async function handleQueryDirectory(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeQueryDirectoryRequest(q.message);
  const o = openOf(c, q, req.fileId);
  if (!o.node.isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & ACCESS.FILE_READ_DATA)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (!isDirectoryClass(req.infoClass)) throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
  const max = Math.min(req.outputBufferLength, c.maxIo);
  if (req.flags & QUERY_DIRECTORY_FLAG.REOPEN || !o.dir) o.dir = freshCursor(req.pattern);
  else if (req.flags & QUERY_DIRECTORY_FLAG.RESTART_SCANS) o.dir = freshCursor(o.dir.pattern);
  const cur = o.dir;
  const single = (req.flags & QUERY_DIRECTORY_FLAG.RETURN_SINGLE_ENTRY) !== 0;
  await fill(c, o, cur, single ? 1 : Math.min(4096, Math.max(1, Math.ceil(max / 80))));
  if (!cur.pending.length) {
    throw new SmbStatusError(cur.returned ? STATUS.NO_MORE_FILES : STATUS.NO_SUCH_FILE);
  }
  let out: Buffer = Buffer.alloc(0);
  let first = true;
  for (;;) {
    const packed = packDirectory(req.infoClass, cur.pending as Iterable<DirEntryInfo>, max - out.length - (out.length ? (8 - (out.length % 8)) % 8 : 0), single ? 1 : Infinity);
    if (packed.count === 0) {
      if (first) throw new SmbStatusError(STATUS.INFO_LENGTH_MISMATCH);
      break;
    }
    out = out.length ? chainDirectory(out, packed.buffer) : packed.buffer;
    cur.pending.splice(0, packed.count);
    first = false;
    if (single || cur.pending.length || cur.exhausted) break;
    await fill(c, o, cur, Math.min(4096, Math.max(1, Math.ceil((max - out.length) / 80))));
    if (!cur.pending.length) break;
  }
  cur.returned = true;
  const result = out;
  return { status: STATUS.SUCCESS, body: (w) => { writeOutputBufferResponse(w, result); } };
}

/** Joins two packed directory buffers: pads the first to 8 and links its last entry to the second. */
function chainDirectory(a: Buffer, b: Buffer): Buffer {
  let last = 0;
  for (let off = 0; ;) {
    const next = a.readUInt32LE(off);
    if (next === 0) {
      last = off;
      break;
    }
    off += next;
  }
  const padded = (a.length + 7) & ~7;
  const out = Buffer.alloc(padded + b.length);
  a.copy(out);
  out.writeUInt32LE(padded - last, last);
  b.copy(out, padded);
  return out;
}
