/**
 * CHANGE_NOTIFY (MS-SMB2 2.2.35 request, 2.2.36 response) and FILE_NOTIFY_INFORMATION (MS-FSCC
 * 2.7.1). Sans-IO; the decoder reads through the bounded Reader and throws WireError only.
 * The response has the QUERY_INFO layout (StructureSize 9, offset, length): wire/files.ts
 * `writeOutputBufferResponse` writes it.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';
import type { FileId } from './files.js';

/** Flags (2.2.35). */
export const SMB2_WATCH_TREE = 0x0001;

/** CompletionFilter bits (2.2.35). */
export const FILE_NOTIFY_CHANGE = {
  FILE_NAME: 0x001, DIR_NAME: 0x002, ATTRIBUTES: 0x004, SIZE: 0x008, LAST_WRITE: 0x010, LAST_ACCESS: 0x020, CREATION: 0x040,
  EA: 0x080, SECURITY: 0x100, STREAM_NAME: 0x200, STREAM_SIZE: 0x400, STREAM_WRITE: 0x800,
} as const;

/** Action (MS-FSCC 2.7.1). */
export const FILE_ACTION = { ADDED: 1, REMOVED: 2, MODIFIED: 3, RENAMED_OLD_NAME: 4, RENAMED_NEW_NAME: 5 } as const;

export interface ChangeNotifyRequest {
  flags: number;
  outputBufferLength: number;
  fileId: FileId;
  completionFilter: number;
}

/** CHANGE_NOTIFY request: StructureSize 32 (a WireError otherwise). */
export function decodeChangeNotifyRequest(msg: Buffer): ChangeNotifyRequest {
  const r = new Reader(msg, 0, msg.length, 0).skip(SMB2_HEADER_SIZE, 'header');
  const size = r.u16('CHANGE_NOTIFY StructureSize');
  if (size !== 32) throw new WireError(`CHANGE_NOTIFY: StructureSize ${size}, expected 32`);
  const flags = r.u16('Flags'), outputBufferLength = r.u32('OutputBufferLength');
  const fileId = { persistent: r.u64('FileId.Persistent'), volatile: r.u64('FileId.Volatile') };
  const completionFilter = r.u32('CompletionFilter');
  r.skip(4, 'Reserved');
  return { flags, outputBufferLength, fileId, completionFilter };
}

/** The client side (tests): a CHANGE_NOTIFY request body. */
export function writeChangeNotifyRequest(w: Writer, q: ChangeNotifyRequest): Writer {
  return w.u16(32).u16(q.flags).u32(q.outputBufferLength).u64(q.fileId.persistent).u64(q.fileId.volatile).u32(q.completionFilter).u32(0);
}

export interface NotifyEntry {
  action: number;
  /** Relative to the watched folder, '\\'-separated. */
  name: string;
}

/** FILE_NOTIFY_INFORMATION entries, each 4-byte aligned, NextEntryOffset 0 on the last. */
export function encodeNotifyInformation(entries: readonly NotifyEntry[]): Buffer {
  const w = new Writer(64);
  let prev = -1;
  for (const e of entries) {
    w.align(4);
    if (prev >= 0) w.patchU32(prev, w.length - prev);
    prev = w.length;
    const name = Buffer.from(e.name, 'utf16le');
    w.u32(0).u32(e.action).u32(name.length).bytes(name);
  }
  return w.finish();
}

/** FILE_NOTIFY_INFORMATION back into entries (tests, fuzz): at most `max` entries. */
export function decodeNotifyInformation(b: Buffer, max = 4096): NotifyEntry[] {
  const out: NotifyEntry[] = [];
  let off = 0;
  while (b.length > 0) {
    if (out.length >= max) throw new WireError('FILE_NOTIFY_INFORMATION: too many entries');
    const r = new Reader(b, off);
    const next = r.u32('NextEntryOffset'), action = r.u32('Action'), len = r.u32('FileNameLength');
    out.push({ action, name: r.utf16(len, 65534, 'FileName') });
    if (next === 0) break;
    if (next < 12 || off + next >= b.length) throw new WireError(`FILE_NOTIFY_INFORMATION: NextEntryOffset ${next} out of the buffer`);
    off += next;
  }
  return out;
}
