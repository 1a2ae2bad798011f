/**
 * Encoders of the server's packets (draft-02 sections 4, 7): VERSION, STATUS, HANDLE, DATA,
 * NAME, ATTRS and EXTENDED_REPLY, each returned as one Buffer with its length prefix, and a
 * decoder of them for tests and tools.
 */
import { readAttrs, writeAttrs, type FileAttrs } from './attrs.js';
import { MAX_EXT_DATA, MAX_EXT_PAIRS, MAX_HANDLE, MAX_NAME, MAX_PACKET, MAX_PATH, SSH_FXP } from './constants.js';
import { STATVFS_FIELDS, type LimitsReply, type StatVfsReply } from './extended.js';
import { Reader, WireError } from './reader.js';
import { Writer } from './writer.js';

export interface NameEntry { filename: string; longname: string; attrs: FileAttrs }

export function encodeVersion(version: number, extensions: Array<[string, string]>): Buffer {
  const w = new Writer(256).u8(SSH_FXP.VERSION).u32(version);
  for (const [k, v] of extensions) w.string(k).string(v);
  return w.packet();
}

/** SSH_FXP_STATUS: code, UTF-8 message, language tag ('' when none). */
export function encodeStatus(id: number, code: number, message = '', lang = ''): Buffer {
  return new Writer(32 + message.length * 3).u8(SSH_FXP.STATUS).u32(id).u32(code).string(message).string(lang).packet();
}

export function encodeHandle(id: number, handle: Uint8Array): Buffer {
  return new Writer(16 + handle.length).u8(SSH_FXP.HANDLE).u32(id).string(handle).packet();
}

/** SSH_FXP_DATA; one allocation, one copy of `data`. */
export function encodeData(id: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(13 + data.length);
  out.writeUInt32BE(9 + data.length, 0);
  out[4] = SSH_FXP.DATA;
  out.writeUInt32BE(id >>> 0, 5);
  out.writeUInt32BE(data.length, 9);
  out.set(data, 13);
  return out;
}

export function encodeName(id: number, entries: readonly NameEntry[]): Buffer {
  const w = new Writer(64 + entries.length * 128).u8(SSH_FXP.NAME).u32(id).u32(entries.length);
  for (const e of entries) writeAttrs(w.string(e.filename).string(e.longname), e.attrs);
  return w.packet();
}

export function encodeAttrs(id: number, attrs: FileAttrs): Buffer {
  return writeAttrs(new Writer(64).u8(SSH_FXP.ATTRS).u32(id), attrs).packet();
}

/** SSH_FXP_EXTENDED_REPLY with a raw extension-specific body. */
export function encodeExtendedReply(id: number, body: Uint8Array): Buffer {
  return new Writer(16 + body.length).u8(SSH_FXP.EXTENDED_REPLY).u32(id).raw(body).packet();
}

export function encodeStatVfsReply(id: number, s: StatVfsReply): Buffer {
  const w = new Writer(100).u8(SSH_FXP.EXTENDED_REPLY).u32(id);
  for (const f of STATVFS_FIELDS) w.u64(s[f]);
  return w.packet();
}

export function encodeLimitsReply(id: number, l: LimitsReply): Buffer {
  return new Writer(48).u8(SSH_FXP.EXTENDED_REPLY).u32(id)
    .u64(l.maxPacketLength).u64(l.maxReadLength).u64(l.maxWriteLength).u64(l.maxOpenHandles).packet();
}

export type Reply =
  | { type: typeof SSH_FXP.VERSION; version: number; extensions: Array<[string, string]> }
  | { type: typeof SSH_FXP.STATUS; id: number; code: number; message: string; lang: string }
  | { type: typeof SSH_FXP.HANDLE; id: number; handle: Buffer }
  | { type: typeof SSH_FXP.DATA; id: number; data: Buffer }
  | { type: typeof SSH_FXP.NAME; id: number; entries: NameEntry[] }
  | { type: typeof SSH_FXP.ATTRS; id: number; attrs: FileAttrs }
  | { type: typeof SSH_FXP.EXTENDED_REPLY; id: number; body: Buffer };

/** Decodes one server packet (type byte first, no length prefix). Throws WireError. */
export function decodeReply(pkt: Buffer): Reply {
  const r = new Reader(pkt);
  const type = r.u8('type');
  if (type === SSH_FXP.VERSION) {
    const version = r.u32('version');
    const extensions: Array<[string, string]> = [];
    while (r.remaining() > 0) {
      if (extensions.length >= MAX_EXT_PAIRS) throw new WireError('too many extensions');
      extensions.push([r.utf8(MAX_NAME), r.utf8(MAX_EXT_DATA)]);
    }
    return { type, version, extensions };
  }
  const id = r.u32('id');
  switch (type) {
    case SSH_FXP.STATUS:
      return { type, id, code: r.u32('code'), message: r.remaining() ? r.utf8(MAX_PACKET) : '', lang: r.remaining() ? r.utf8(MAX_NAME) : '' };
    case SSH_FXP.HANDLE:
      return { type, id, handle: r.bytes(MAX_HANDLE) };
    case SSH_FXP.DATA:
      return { type, id, data: r.bytes(MAX_PACKET) };
    case SSH_FXP.NAME: {
      const n = r.u32('count');
      if (n > MAX_PACKET / 13) throw new WireError('name count too large');
      const entries: NameEntry[] = [];
      for (let i = 0; i < n; i++) entries.push({ filename: r.utf8(MAX_PATH), longname: r.utf8(MAX_PATH), attrs: readAttrs(r) });
      return { type, id, entries };
    }
    case SSH_FXP.ATTRS:
      return { type, id, attrs: readAttrs(r) };
    case SSH_FXP.EXTENDED_REPLY:
      return { type, id, body: r.rest(MAX_PACKET) };
    default:
      throw new WireError(`unknown reply type ${type}`);
  }
}
