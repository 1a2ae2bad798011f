/**
 * SMB2 NEGOTIATE request and response (MS-SMB2 2.2.3, 2.2.4) with negotiate contexts (2.2.3.1:
 * PREAUTH_INTEGRITY_CAPABILITIES, ENCRYPTION_CAPABILITIES, NETNAME_NEGOTIATE_CONTEXT_ID,
 * SIGNING_CAPABILITIES; others kept raw and ignored), plus the server's choices (dialect, cipher,
 * signing algorithm; 3.3.5.4). Bodies are decoded from a whole message (header included) because
 * their offsets count from the header.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { decodeUtf16, Reader, WireError, Writer } from './reader.js';

/** Dialect revisions (2.2.3). 0x02FF is the wildcard answer to an SMB1 multi-protocol negotiate. */
export const DIALECT = { SMB202: 0x0202, SMB210: 0x0210, SMB300: 0x0300, SMB302: 0x0302, SMB311: 0x0311, WILDCARD: 0x02ff } as const;
/** The dialects this codebase knows, lowest first. */
export const KNOWN_DIALECTS: readonly number[] = [DIALECT.SMB202, DIALECT.SMB210, DIALECT.SMB300, DIALECT.SMB302, DIALECT.SMB311];

/** SecurityMode bits (2.2.3). */
export const SECURITY_MODE = { SIGNING_ENABLED: 0x0001, SIGNING_REQUIRED: 0x0002 } as const;

/** Capabilities bits (2.2.3). */
export const CAP = {
  DFS: 0x01, LEASING: 0x02, LARGE_MTU: 0x04, MULTI_CHANNEL: 0x08, PERSISTENT_HANDLES: 0x10,
  DIRECTORY_LEASING: 0x20, ENCRYPTION: 0x40, NOTIFICATIONS: 0x80,
} as const;

/** Negotiate context types (2.2.3.1). */
export const CTX = {
  PREAUTH_INTEGRITY: 0x0001, ENCRYPTION: 0x0002, COMPRESSION: 0x0003, NETNAME: 0x0005,
  TRANSPORT: 0x0006, RDMA_TRANSFORM: 0x0007, SIGNING: 0x0008,
} as const;

/** HashAlgorithms (2.2.3.1.1). */
export const HASH_SHA512 = 0x0001;
/** Cipher ids (2.2.3.1.2). */
export const CIPHER = { AES_128_CCM: 0x0001, AES_128_GCM: 0x0002, AES_256_CCM: 0x0003, AES_256_GCM: 0x0004 } as const;
/** Signing algorithm ids (2.2.3.1.7). */
export const SIGNING_ALG = { HMAC_SHA256: 0x0000, AES_CMAC: 0x0001, AES_GMAC: 0x0002 } as const;

const MAX_DIALECTS = 64;
const MAX_CONTEXTS = 32;
const MAX_IDS = 64;
const MAX_SALT = 256;
const MAX_SECURITY_BUFFER = 65535;

/** A decoded negotiate context. Unknown types keep their raw data so they can be skipped. */
export type NegotiateContext =
  | { type: typeof CTX.PREAUTH_INTEGRITY; hashAlgorithms: number[]; salt: Buffer }
  | { type: typeof CTX.ENCRYPTION; ciphers: number[] }
  | { type: typeof CTX.SIGNING; algorithms: number[] }
  | { type: typeof CTX.NETNAME; netName: string }
  | { type: number; data: Buffer; unknown: true };

export interface NegotiateRequest {
  securityMode: number;
  capabilities: number;
  /** 16 bytes. */
  clientGuid: Buffer;
  dialects: number[];
  /** Present only when the dialect list has 3.1.1 (else the 8 bytes are ClientStartTime). */
  contexts: NegotiateContext[];
}

export interface NegotiateResponse {
  securityMode: number;
  dialect: number;
  /** 16 bytes. */
  serverGuid: Buffer;
  capabilities: number;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  /** FILETIME (100 ns since 1601-01-01 UTC). */
  systemTime: bigint;
  serverStartTime: bigint;
  /** The GSS token (SPNEGO NegTokenInit2, auth/spnego.ts). */
  securityBuffer: Buffer;
  /** Only for dialect 3.1.1. */
  contexts: NegotiateContext[];
}

function u16List(r: Reader, count: number, what: string): number[] {
  if (count > MAX_IDS) throw new WireError(`${what}: ${count} ids (max ${MAX_IDS})`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(r.u16(what));
  return out;
}

function decodeContextData(type: number, r: Reader): NegotiateContext {
  switch (type) {
    case CTX.PREAUTH_INTEGRITY: {
      const n = r.u16('HashAlgorithmCount'), saltLen = r.u16('SaltLength');
      if (n === 0) throw new WireError('PREAUTH_INTEGRITY_CAPABILITIES without hash algorithms');
      const hashAlgorithms = u16List(r, n, 'HashAlgorithms');
      return { type, hashAlgorithms, salt: r.bytes(saltLen, MAX_SALT, 'Salt') };
    }
    case CTX.ENCRYPTION: {
      const n = r.u16('CipherCount');
      if (n === 0) throw new WireError('ENCRYPTION_CAPABILITIES without ciphers');
      return { type, ciphers: u16List(r, n, 'Ciphers') };
    }
    case CTX.SIGNING: {
      const n = r.u16('SigningAlgorithmCount');
      if (n === 0) throw new WireError('SIGNING_CAPABILITIES without algorithms');
      return { type, algorithms: u16List(r, n, 'SigningAlgorithms') };
    }
    case CTX.NETNAME:
      return { type, netName: decodeUtf16(r.bytes(r.remaining(), 2048, 'NetName'), 'NetName').replace(/\0+$/, '') };
    default:
      return { type, data: r.bytes(r.remaining(), 65535, 'context data'), unknown: true };
  }
}

/**
 * Reads `count` contexts starting at `offset` (from the header start), each 8-byte aligned
 * (2.2.3.1). Throws WireError on overruns, more than 32 contexts, a known context whose data is
 * malformed, or a known context type given twice.
 */
function decodeContexts(r: Reader, offset: number, count: number): NegotiateContext[] {
  if (count > MAX_CONTEXTS) throw new WireError(`${count} negotiate contexts (max ${MAX_CONTEXTS})`);
  if (count === 0) return [];
  if (offset % 8 !== 0) throw new WireError('NegotiateContextOffset is not 8-byte aligned');
  r.seek(offset, 'NegotiateContextOffset');
  const out: NegotiateContext[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    if (i > 0) r.align(8, 'negotiate context padding');
    const type = r.u16('ContextType'), len = r.u16('DataLength');
    r.skip(4, 'context Reserved');
    const ctx = decodeContextData(type, r.sub(len, 'context data'));
    if (!('unknown' in ctx)) {
      if (seen.has(type)) throw new WireError(`negotiate context ${type} given twice`);
      seen.add(type);
    }
    out.push(ctx);
  }
  return out;
}

function writeContextData(w: Writer, c: NegotiateContext): void {
  if ('unknown' in c) {
    w.bytes(c.data);
    return;
  }
  switch (c.type) {
    case CTX.PREAUTH_INTEGRITY:
      w.u16(c.hashAlgorithms.length).u16(c.salt.length);
      c.hashAlgorithms.forEach((a) => w.u16(a));
      w.bytes(c.salt);
      return;
    case CTX.ENCRYPTION:
      w.u16(c.ciphers.length);
      c.ciphers.forEach((a) => w.u16(a));
      return;
    case CTX.SIGNING:
      w.u16(c.algorithms.length);
      c.algorithms.forEach((a) => w.u16(a));
      return;
    case CTX.NETNAME:
      w.utf16(c.netName);
      return;
  }
}

/** Writes contexts at the writer's position (which must already be 8-aligned from `hdrStart`). */
function writeContexts(w: Writer, contexts: readonly NegotiateContext[], hdrStart: number): void {
  contexts.forEach((c, i) => {
    if (i > 0) w.align(8, hdrStart);
    w.u16(c.type);
    const lenAt = w.length;
    w.u16(0).u32(0);
    const start = w.length;
    writeContextData(w, c);
    w.patchU16(lenAt, w.length - start);
  });
}

/**
 * Decodes a NEGOTIATE request body from a whole message (64-byte header first; MS-SMB2 2.2.3).
 * Throws WireError on StructureSize ≠ 36, zero or more than 64 dialects, and on any overrun of
 * the dialect list or negotiate contexts. Contexts are read only when 3.1.1 is offered.
 */
export function decodeNegotiateRequest(msg: Buffer): NegotiateRequest {
  const r = new Reader(msg).skip(SMB2_HEADER_SIZE, 'header');
  if (r.u16('StructureSize') !== 36) throw new WireError('NEGOTIATE request StructureSize is not 36');
  const count = r.u16('DialectCount');
  if (count === 0 || count > MAX_DIALECTS) throw new WireError(`NEGOTIATE DialectCount ${count}`);
  const securityMode = r.u16(), _reserved = r.u16(), capabilities = r.u32();
  void _reserved;
  const clientGuid = r.bytes(16, 16, 'ClientGuid');
  const ctxOffset = r.u32(), ctxCount = r.u16();
  r.skip(2);
  const dialects = u16List(r, count, 'Dialects');
  const contexts = dialects.includes(DIALECT.SMB311) ? decodeContexts(r, ctxOffset, ctxCount) : [];
  return { securityMode, capabilities, clientGuid, dialects, contexts };
}

/** Encodes a NEGOTIATE request body (after a header the caller wrote at `hdrStart`). */
export function writeNegotiateRequest(w: Writer, q: NegotiateRequest, hdrStart = 0): Writer {
  w.u16(36).u16(q.dialects.length).u16(q.securityMode).u16(0).u32(q.capabilities).bytes(q.clientGuid);
  const ctxOffsetAt = w.length;
  w.u32(0).u16(q.contexts.length).u16(0);
  q.dialects.forEach((d) => w.u16(d));
  if (q.contexts.length) {
    w.align(8, hdrStart);
    w.patchU32(ctxOffsetAt, w.length - hdrStart);
    writeContexts(w, q.contexts, hdrStart);
  }
  return w;
}

/**
 * Decodes a NEGOTIATE response body from a whole message (MS-SMB2 2.2.4). Throws WireError on
 * StructureSize ≠ 65 or any overrun.
 */
export function decodeNegotiateResponse(msg: Buffer): NegotiateResponse {
  const r = new Reader(msg).skip(SMB2_HEADER_SIZE, 'header');
  if (r.u16('StructureSize') !== 65) throw new WireError('NEGOTIATE response StructureSize is not 65');
  const securityMode = r.u16(), dialect = r.u16(), ctxCount = r.u16();
  const serverGuid = r.bytes(16, 16, 'ServerGuid');
  const capabilities = r.u32(), maxTransactSize = r.u32(), maxReadSize = r.u32(), maxWriteSize = r.u32();
  const systemTime = r.u64(), serverStartTime = r.u64();
  const secOffset = r.u16(), secLength = r.u16(), ctxOffset = r.u32();
  const securityBuffer = r.at(secOffset, secLength, MAX_SECURITY_BUFFER, 'SecurityBuffer', SMB2_HEADER_SIZE + 64);
  const contexts = dialect === DIALECT.SMB311 ? decodeContexts(r, ctxOffset, ctxCount) : [];
  return { securityMode, dialect, serverGuid, capabilities, maxTransactSize, maxReadSize, maxWriteSize, systemTime, serverStartTime, securityBuffer, contexts };
}

/** Encodes a NEGOTIATE response body after a header written at `hdrStart` (contexts only for 3.1.1). */
export function writeNegotiateResponse(w: Writer, s: NegotiateResponse, hdrStart = 0): Writer {
  const withCtx = s.dialect === DIALECT.SMB311 && s.contexts.length > 0;
  w.u16(65).u16(s.securityMode).u16(s.dialect).u16(withCtx ? s.contexts.length : 0).bytes(s.serverGuid)
    .u32(s.capabilities).u32(s.maxTransactSize).u32(s.maxReadSize).u32(s.maxWriteSize).u64(s.systemTime).u64(s.serverStartTime);
  const secOffset = w.length - hdrStart + 8;
  w.u16(s.securityBuffer.length ? secOffset : 0).u16(s.securityBuffer.length);
  const ctxOffsetAt = w.length;
  w.u32(0).bytes(s.securityBuffer);
  if (withCtx) {
    w.align(8, hdrStart);
    w.patchU32(ctxOffsetAt, w.length - hdrStart);
    writeContexts(w, s.contexts, hdrStart);
  } else if (!s.securityBuffer.length) w.u8(0); // StructureSize 65 counts one byte of Buffer
  return w;
}

/** The context of a type in a list, if present. */
export function findContext<T extends number>(contexts: readonly NegotiateContext[], type: T): Extract<NegotiateContext, { type: T }> | undefined {
  return contexts.find((c) => c.type === type && !('unknown' in c)) as Extract<NegotiateContext, { type: T }> | undefined;
}

/**
 * The dialect a server picks (MS-SMB2 3.3.5.4): the highest revision in both lists, or null if
 * none. 0x02FF in the client list is not a dialect and is ignored.
 */
export function selectDialect(client: readonly number[], server: readonly number[] = KNOWN_DIALECTS): number | null {
  let best: number | null = null;
  for (const d of client) if (d !== DIALECT.WILDCARD && server.includes(d) && (best === null || d > best)) best = d;
  return best;
}

/**
 * The first id of the client's list (its order of preference, 3.3.5.2.5.2 / 2.2.3.1.7) that the
 * server also supports, or null. Used for ciphers and signing algorithms.
 */
export function selectByClientOrder(client: readonly number[], server: readonly number[]): number | null {
  for (const id of client) if (server.includes(id)) return id;
  return null;
}

/** True for dialects of the SMB 3.x family (3.0, 3.0.2, 3.1.1), which have KDF keys and encryption. */
export function isSmb3(dialect: number): boolean {
  return dialect >= DIALECT.SMB300 && dialect !== DIALECT.WILDCARD;
}
