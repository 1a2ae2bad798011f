/**
 * SPNEGO (RFC 4178, MS-SPNG) tokens as SMB2 carries them in NEGOTIATE and SESSION_SETUP
 * security buffers: the GSS-API InitialContextToken wrapper (RFC 2743 3.1) around NegTokenInit,
 * NegTokenResp, and the server's NegTokenInit2 (MS-SPNG 2.2.1). A minimal DER reader/writer:
 * definite lengths only, lengths bounded (64 KiB), nesting fixed by the grammar; anything else throws `SpnegoError`.
 */
import { WireError } from '../wire/reader.js';

/** A malformed or unsupported SPNEGO token. The server answers STATUS_INVALID_PARAMETER / LOGON_FAILURE. */
export class SpnegoError extends WireError {
  constructor(message: string) {
    super(message);
    this.name = 'SpnegoError';
  }
}

export const OID_SPNEGO = '1.3.6.1.5.5.2';
export const OID_NTLMSSP = '1.3.6.1.4.1.311.2.2.10';
/** MS-SPNG 3.2.5.2: the hint name a server puts in NegTokenInit2. */
export const NEG_HINT_NAME = 'not_defined_in_RFC4178@please_ignore';

const MAX_TOKEN = 65535;
const MAX_MECHS = 16;

/** A DER TLV: tag byte, content view, and where it ended. */
interface Tlv {
  tag: number;
  content: Buffer;
}

/** Reads one TLV from `buf` at `pos`. Long-form lengths up to 3 bytes; indefinite length refused. */
function readTlv(buf: Buffer, pos: number): Tlv & { end: number } {
  if (pos + 2 > buf.length) throw new SpnegoError('DER: truncated header');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new SpnegoError('DER: multi-byte tags are not supported');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new SpnegoError('DER: indefinite length');
    if (n > 3) throw new SpnegoError('DER: length too large');
    if (p + n > buf.length) throw new SpnegoError('DER: truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (len > MAX_TOKEN) throw new SpnegoError(`DER: length ${len} too large`);
  if (p + len > buf.length) throw new SpnegoError('DER: content runs past its container');
  return { tag, content: buf.subarray(p, p + len), end: p + len };
}

/** All TLVs of a constructed value's content, in order. */
function children(content: Buffer, max = 16): Tlv[] {
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < content.length) {
    if (out.length >= max) throw new SpnegoError('DER: too many elements');
    const t = readTlv(content, pos);
    out.push({ tag: t.tag, content: t.content });
    pos = t.end;
  }
  return out;
}

/** Exactly one TLV filling `buf`, with the expected tag. */
function single(buf: Buffer, tag: number, what: string): Buffer {
  const t = readTlv(buf, 0);
  if (t.tag !== tag) throw new SpnegoError(`${what}: tag 0x${t.tag.toString(16)} (want 0x${tag.toString(16)})`);
  if (t.end !== buf.length) throw new SpnegoError(`${what}: trailing bytes`);
  return t.content;
}

/** Decodes a DER OBJECT IDENTIFIER's content (X.690 8.19) to dotted form. */
export function decodeOid(c: Buffer): string {
  if (c.length === 0 || c.length > 64) throw new SpnegoError('OID: bad length');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (v === 0 && b === 0x80) throw new SpnegoError('OID: non-minimal arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new SpnegoError('OID: arc too large');
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new SpnegoError('OID: truncated arc');
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** Encodes a dotted OID's content bytes. Throws RangeError on a malformed OID. */
export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${oid}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0]! > 2) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)].forEach((a) => {
    const bytes = [a & 0x7f];
    for (a = Math.floor(a / 128); a > 0; a = Math.floor(a / 128)) bytes.unshift((a & 0x7f) | 0x80);
    out.push(...bytes);
  });
  return Buffer.from(out);
}

/** A DER TLV with a minimal length. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  if (n > 0xffffff) throw new RangeError('DER value too long');
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

const SEQ = 0x30, OID = 0x06, OCTETS = 0x04, ENUM = 0x0a, BITS = 0x03, GENSTR = 0x1b, APP0 = 0x60;
const ctx = (n: number): number => 0xa0 | n;

/** NegTokenInit (RFC 4178 4.2.1) or NegTokenInit2 (MS-SPNG 2.2.1); fields a server reads. */
export interface NegTokenInit {
  mechTypes: string[];
  /**
   * The DER of the mechTypes SEQUENCE exactly as received: the input of mechListMIC
   * (RFC 4178 5, "the mechanism list MIC is computed over the DER of MechTypeList").
   */
  mechTypesDer: Buffer;
  reqFlags?: Buffer;
  mechToken?: Buffer;
  mechListMIC?: Buffer;
  hintName?: string;
}

/** negState values (RFC 4178 4.2.2). */
export const NEG_STATE = { ACCEPT_COMPLETED: 0, ACCEPT_INCOMPLETE: 1, REJECT: 2, REQUEST_MIC: 3 } as const;

/** NegTokenResp (RFC 4178 4.2.2). */
export interface NegTokenResp {
  negState?: number;
  supportedMech?: string;
  responseToken?: Buffer;
  mechListMIC?: Buffer;
}

function mechList(c: Buffer): string[] {
  return children(single(c, SEQ, 'mechTypes'), MAX_MECHS).map((t) => {
    if (t.tag !== OID) throw new SpnegoError('mechTypes: element is not an OID');
    return decodeOid(t.content);
  });
}

function decodeInitFields(seq: Buffer): NegTokenInit {
  const out: NegTokenInit = { mechTypes: [], mechTypesDer: Buffer.alloc(0) };
  let last = -1;
  for (const t of children(seq, 5)) {
    const n = t.tag - 0xa0;
    if (n < 0 || n > 4 || n <= last) throw new SpnegoError(`NegTokenInit: unexpected tag 0x${t.tag.toString(16)}`);
    last = n;
    if (n === 0) {
      out.mechTypes = mechList(t.content);
      out.mechTypesDer = t.content;
    } else if (n === 1) out.reqFlags = single(t.content, BITS, 'reqFlags');
    else if (n === 2) out.mechToken = single(t.content, OCTETS, 'mechToken');
    else if (n === 3) {
      // RFC 4178 has mechListMIC [3] OCTET STRING; MS-SPNG's NegTokenInit2 has negHints [3] SEQUENCE.
      const inner = readTlv(t.content, 0);
      if (inner.tag === OCTETS) out.mechListMIC = single(t.content, OCTETS, 'mechListMIC');
      else {
        for (const h of children(single(t.content, SEQ, 'negHints'), 2)) {
          if (h.tag === ctx(0)) out.hintName = single(h.content, GENSTR, 'hintName').toString('latin1');
        }
      }
    } else out.mechListMIC = single(t.content, OCTETS, 'mechListMIC');
  }
  if (out.mechTypes.length === 0) throw new SpnegoError('NegTokenInit without mechTypes');
  return out;
}

function decodeRespFields(seq: Buffer): NegTokenResp {
  const out: NegTokenResp = {};
  let last = -1;
  for (const t of children(seq, 4)) {
    const n = t.tag - 0xa0;
    if (n < 0 || n > 3 || n <= last) throw new SpnegoError(`NegTokenResp: unexpected tag 0x${t.tag.toString(16)}`);
    last = n;
    if (n === 0) {
      const e = single(t.content, ENUM, 'negState');
      if (e.length !== 1 || e[0]! > 3) throw new SpnegoError('negState out of range');
      out.negState = e[0]!;
    } else if (n === 1) out.supportedMech = decodeOid(single(t.content, OID, 'supportedMech'));
    else if (n === 2) out.responseToken = single(t.content, OCTETS, 'responseToken');
    else out.mechListMIC = single(t.content, OCTETS, 'mechListMIC');
  }
  return out;
}

/** A decoded SESSION_SETUP / NEGOTIATE security blob. */
export type SpnegoToken = { kind: 'init'; init: NegTokenInit } | { kind: 'resp'; resp: NegTokenResp };

/**
 * Decodes a security buffer: either the GSS InitialContextToken ([APPLICATION 0] { OID
 * 1.3.6.1.5.5.2, [0] NegTokenInit }) or a bare [1] NegTokenResp (RFC 4178 4.2). Throws
 * SpnegoError (a WireError) on anything malformed, another mechanism OID, or a buffer larger
 * than 64 KiB. Nesting is bounded by the grammar: the decoder only descends into the fixed
 * structure (at most five levels), never into arbitrary constructed values.
 */
export function decodeSpnego(buf: Buffer): SpnegoToken {
  if (buf.length > MAX_TOKEN) throw new SpnegoError('SPNEGO token too large');
  const top = readTlv(buf, 0);
  if (top.end !== buf.length) throw new SpnegoError('SPNEGO token: trailing bytes');
  if (top.tag === APP0) {
    const parts = children(top.content, 2);
    if (parts.length !== 2 || parts[0]!.tag !== OID || decodeOid(parts[0]!.content) !== OID_SPNEGO) throw new SpnegoError('GSS token is not SPNEGO');
    if (parts[1]!.tag !== ctx(0)) throw new SpnegoError('SPNEGO initial token is not NegTokenInit');
    return { kind: 'init', init: decodeInitFields(single(parts[1]!.content, SEQ, 'NegTokenInit')) };
  }
  if (top.tag === ctx(1)) return { kind: 'resp', resp: decodeRespFields(single(top.content, SEQ, 'NegTokenResp')) };
  if (top.tag === ctx(0)) return { kind: 'init', init: decodeInitFields(single(top.content, SEQ, 'NegTokenInit')) };
  throw new SpnegoError(`SPNEGO: unexpected token tag 0x${top.tag.toString(16)}`);
}

/** The DER MechTypeList for `mechs` (also the input of a mechListMIC). */
export function encodeMechTypes(mechs: readonly string[]): Buffer {
  return tlv(SEQ, ...mechs.map((m) => tlv(OID, encodeOid(m))));
}

/** A client-style NegTokenInit in its GSS wrapper (RFC 4178 4.2.1); used by tests and a future client. */
export function encodeNegTokenInit(t: { mechTypes: string[]; mechToken?: Buffer; mechListMIC?: Buffer }): Buffer {
  const fields = [tlv(ctx(0), encodeMechTypes(t.mechTypes))];
  if (t.mechToken) fields.push(tlv(ctx(2), tlv(OCTETS, t.mechToken)));
  if (t.mechListMIC) fields.push(tlv(ctx(3), tlv(OCTETS, t.mechListMIC)));
  return tlv(APP0, tlv(OID, encodeOid(OID_SPNEGO)), tlv(ctx(0), tlv(SEQ, ...fields)));
}

/**
 * The server's NegTokenInit2 for the NEGOTIATE response security buffer (MS-SPNG 2.2.1,
 * 3.2.5.2): mechTypes (NTLMSSP by default) and negHints with the fixed hint name.
 */
export function encodeNegTokenInit2(mechTypes: readonly string[] = [OID_NTLMSSP]): Buffer {
  const hints = tlv(SEQ, tlv(ctx(0), tlv(GENSTR, Buffer.from(NEG_HINT_NAME, 'latin1'))));
  const init = tlv(SEQ, tlv(ctx(0), encodeMechTypes(mechTypes)), tlv(ctx(3), hints));
  return tlv(APP0, tlv(OID, encodeOid(OID_SPNEGO)), tlv(ctx(0), init));
}

/** A NegTokenResp ([1] SEQUENCE, RFC 4178 4.2.2) with the fields given. */
export function encodeNegTokenResp(r: NegTokenResp): Buffer {
  const f: Buffer[] = [];
  if (r.negState !== undefined) f.push(tlv(ctx(0), tlv(ENUM, Buffer.from([r.negState]))));
  if (r.supportedMech !== undefined) f.push(tlv(ctx(1), tlv(OID, encodeOid(r.supportedMech))));
  if (r.responseToken) f.push(tlv(ctx(2), tlv(OCTETS, r.responseToken)));
  if (r.mechListMIC) f.push(tlv(ctx(3), tlv(OCTETS, r.mechListMIC)));
  return tlv(ctx(1), tlv(SEQ, ...f));
}
