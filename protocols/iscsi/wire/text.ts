/**
 * iSCSI text parameters (RFC 7143 section 6): key=value pairs, each followed by one NUL, in the
 * data segment of Login and Text PDUs; a run of PDUs with the C bit set forms one
 * logical-text-data-segment (6.1). Negotiation rules (6.2-6.6) for the operational keys of
 * section 13, and CHAP (12.1.3 over RFC 1994). Sans-IO: strings and buffers in, values out.
 *
 * Errors: malformed text throws `TextError` (a WireError). During login the target answers
 * it with Login Response status INITIATOR_ERROR (0x0200) and closes; in full feature phase with
 * a Reject reason PROTOCOL_ERROR. Values that are well-formed text but wrong for their key are
 * not errors: `negotiate*` answers them "Reject" / "NotUnderstood" / "Irrelevant" (6.2).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { WireError } from './reader.js';

/** Malformed key=value text (RFC 7143 section 6.1). */
export class TextError extends WireError {
  constructor(message: string) {
    super(message);
    this.name = 'TextError';
  }
}

/** Longest key name (standard-label, 6.1): 63 bytes. */
export const MAX_KEY_LENGTH = 63;
/** Longest ordinary value (6.1): 255 bytes. */
export const MAX_VALUE_LENGTH = 255;
/** Longest value of a key that carries large binary values (CHAP_C, CHAP_R as hex/base64): 8192 bytes. */
export const MAX_BINARY_VALUE_LENGTH = 8192;
/** Keys whose value may be up to MAX_BINARY_VALUE_LENGTH. */
export const LARGE_VALUE_KEYS: ReadonlySet<string> = new Set(['CHAP_C', 'CHAP_R']);
/**
 * Most key=value bytes one negotiation sequence (all PDUs of one LTDS) may carry here. RFC 7143
 * asks every implementation to take at least 8192 (6.6); 64 KiB leaves room and stays bounded.
 */
export const MAX_TEXT_SEGMENT = 64 * 1024;

/** Special answer values (6.2, 6.2.1). */
export const Answer = { REJECT: 'Reject', IRRELEVANT: 'Irrelevant', NOT_UNDERSTOOD: 'NotUnderstood' } as const;

const KEY_RE = /^[A-Z][A-Za-z0-9.\-+@_#]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One key=value pair in the order it arrived. */
export type Pair = readonly [key: string, value: string];

/**
 * Parses a logical-text-data-segment into pairs in order. Every pair must end with a NUL (6.1);
 * empty strings between NULs (some initiators pad) are skipped. Keys are standard-labels
 * (capital letter first, ≤ 63 bytes); values ≤ 255 bytes (8192 for LARGE_VALUE_KEYS); the
 * whole segment ≤ `maxBytes`. Throws TextError.
 */
export function parseText(data: Buffer, maxBytes = MAX_TEXT_SEGMENT): Pair[] {
  if (data.length > maxBytes) throw new TextError(`text segment of ${data.length} bytes (max ${maxBytes})`);
  if (data.length === 0) return [];
  if (data[data.length - 1] !== 0) throw new TextError('key=value text does not end with a NUL');
  const out: Pair[] = [];
  let start = 0;
  while (start < data.length) {
    const end = data.indexOf(0, start);
    if (end === start) {
      start++;
      continue;
    }
    const raw = data.subarray(start, end);
    start = end + 1;
    const eq = raw.indexOf(0x3d);
    if (eq < 0) throw new TextError('key without "="');
    if (eq === 0) throw new TextError('empty key name');
    if (eq > MAX_KEY_LENGTH) throw new TextError(`key name of ${eq} bytes (max ${MAX_KEY_LENGTH})`);
    let key: string;
    let value: string;
    try {
      key = utf8.decode(raw.subarray(0, eq));
      value = utf8.decode(raw.subarray(eq + 1));
    } catch {
      throw new TextError('key=value text is not UTF-8');
    }
    if (!KEY_RE.test(key)) throw new TextError(`bad key name ${JSON.stringify(key)}`);
    const max = LARGE_VALUE_KEYS.has(key) ? MAX_BINARY_VALUE_LENGTH : MAX_VALUE_LENGTH;
    if (raw.length - eq - 1 > max) throw new TextError(`value of ${key} has ${raw.length - eq - 1} bytes (max ${max})`);
    out.push([key, value]);
  }
  return out;
}

/** The pairs as a map; a key sent twice in one sequence is an error (6.2: "MUST NOT" repeat). */
export function textToMap(pairs: readonly Pair[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of pairs) {
    if (m.has(k)) throw new TextError(`key ${k} sent twice`);
    m.set(k, v);
  }
  return m;
}

/** Encodes pairs as key=value NUL ... (6.1). Throws TextError on a bad key, a NUL or an overlong value. */
export function encodeText(pairs: Iterable<Pair>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of pairs) {
    if (!KEY_RE.test(k) || Buffer.byteLength(k) > MAX_KEY_LENGTH) throw new TextError(`bad key name ${JSON.stringify(k)}`);
    const vb = Buffer.from(v, 'utf8');
    if (vb.includes(0)) throw new TextError(`value of ${k} contains NUL`);
    const max = LARGE_VALUE_KEYS.has(k) ? MAX_BINARY_VALUE_LENGTH : MAX_VALUE_LENGTH;
    if (vb.length > max) throw new TextError(`value of ${k} too long: ${vb.length} bytes`);
    parts.push(Buffer.from(`${k}=`, 'utf8'), vb, Buffer.alloc(1));
  }
  return Buffer.concat(parts);
}

/**
 * Joins the data segments of a Login/Text PDU run with the C bit set (6.1) into one LTDS.
 * `add(data, cont)` returns the pairs once a PDU with C=0 arrives, null while more follow.
 * Throws TextError when the sequence exceeds `maxBytes`.
 */
export class TextAssembler {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly maxBytes = MAX_TEXT_SEGMENT) {}

  add(data: Buffer, cont: boolean): Pair[] | null {
    this.size += data.length;
    if (this.size > this.maxBytes) {
      this.reset();
      throw new TextError(`text sequence longer than ${this.maxBytes} bytes`);
    }
    this.parts.push(Buffer.from(data));
    if (cont) return null;
    const all = Buffer.concat(this.parts);
    this.reset();
    return parseText(all, this.maxBytes);
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
  }
}

/**
 * Splits an encoded text segment into chunks of at most `maxLength` bytes (the peer's
 * MaxRecvDataSegmentLength) for a run of PDUs: every chunk but the last goes with C=1.
 */
export function splitText(text: Buffer, maxLength: number): Buffer[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`bad segment length ${maxLength}`);
  if (text.length === 0) return [text];
  const out: Buffer[] = [];
  for (let i = 0; i < text.length; i += maxLength) out.push(text.subarray(i, i + maxLength));
  return out;
}

// ---- values ---------------------------------------------------------------------------------

/**
 * A numerical value (6.1): decimal, 0x hex or 0b base64 constant, < 2^64; returned only when it
 * is a safe integer within [min, max], else undefined (the caller answers "Reject").
 */
export function parseNumber(v: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  let n: bigint;
  if (/^[0-9]{1,20}$/.test(v)) n = BigInt(v);
  else if (/^0[xX][0-9a-fA-F]{1,16}$/.test(v)) n = BigInt(`0x${v.slice(2)}`);
  else return undefined;
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const x = Number(n);
  return x >= min && x <= max ? x : undefined;
}

/** "Yes" / "No" (6.1 boolean-value); anything else undefined. */
export function parseBoolean(v: string): boolean | undefined {
  return v === 'Yes' ? true : v === 'No' ? false : undefined;
}

export const formatBoolean = (b: boolean): string => (b ? 'Yes' : 'No');

/** A list-of-values (6.1): comma-separated, no empty items; undefined when malformed. */
export function parseList(v: string): string[] | undefined {
  const items = v.split(',');
  return items.every((s) => s.length > 0) ? items : undefined;
}

/**
 * A binary value (6.1 binary-value): "0x"/"0X" + hex digits (an odd count gets a leading zero)
 * or "0b"/"0B" + base64. Throws TextError when malformed or longer than `maxBytes` decoded.
 */
export function parseBinary(v: string, maxBytes = 1024): Buffer {
  let out: Buffer;
  if (/^0[xX][0-9a-fA-F]+$/.test(v)) {
    const hex = v.slice(2);
    out = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  } else if (/^0[bB][A-Za-z0-9+/]+={0,2}$/.test(v) && (v.length - 2) % 4 === 0) {
    out = Buffer.from(v.slice(2), 'base64');
  } else {
    throw new TextError('binary value is neither 0x hex nor 0b base64');
  }
  if (out.length > maxBytes) throw new TextError(`binary value of ${out.length} bytes (max ${maxBytes})`);
  return out;
}

/** Hex form of a binary value, as libiscsi and tgt send it ("0x" + lower-case hex). */
export const formatHex = (b: Uint8Array): string => `0x${Buffer.from(b).toString('hex')}`;
/** Base64 form of a binary value ("0b" + base64). */
export const formatBase64 = (b: Uint8Array): string => `0b${Buffer.from(b).toString('base64')}`;

// ---- operational keys (RFC 7143 section 13) -------------------------------------------------

type NumberKey = {
  kind: 'number';
  min: number;
  max: number;
  def: number;
  /** Result function (6.2.2): the lower or the higher of the two. */
  fn: 'min' | 'max';
};
type BooleanKey = { kind: 'boolean'; def: boolean; fn: 'and' | 'or' };
type ListKey = { kind: 'list'; def: string };
type DeclarativeNumber = { kind: 'declared'; min: number; max: number; def: number };
type KeySpec = (NumberKey | BooleanKey | ListKey | DeclarativeNumber) & {
  section: string;
  /** Irrelevant in a discovery session (13.x "Irrelevant when SessionType=Discovery"). */
  normalOnly: boolean;
};

const MAX24 = 0xffffff;
/** The operational keys issue 8 asks for, with RFC 7143 ranges, defaults and result functions. */
export const OPERATIONAL_KEYS = {
  HeaderDigest: { kind: 'list', def: 'None', section: '13.1', normalOnly: false },
  DataDigest: { kind: 'list', def: 'None', section: '13.1', normalOnly: false },
  MaxConnections: { kind: 'number', min: 1, max: 65535, def: 1, fn: 'min', section: '13.2', normalOnly: true },
  InitialR2T: { kind: 'boolean', def: true, fn: 'or', section: '13.10', normalOnly: true },
  ImmediateData: { kind: 'boolean', def: true, fn: 'and', section: '13.11', normalOnly: true },
  MaxRecvDataSegmentLength: { kind: 'declared', min: 512, max: MAX24, def: 8192, section: '13.12', normalOnly: false },
  MaxBurstLength: { kind: 'number', min: 512, max: MAX24, def: 262144, fn: 'min', section: '13.13', normalOnly: true },
  FirstBurstLength: { kind: 'number', min: 512, max: MAX24, def: 65536, fn: 'min', section: '13.14', normalOnly: true },
  DefaultTime2Wait: { kind: 'number', min: 0, max: 3600, def: 2, fn: 'max', section: '13.15', normalOnly: false },
  DefaultTime2Retain: { kind: 'number', min: 0, max: 3600, def: 20, fn: 'min', section: '13.16', normalOnly: false },
  MaxOutstandingR2T: { kind: 'number', min: 1, max: 65535, def: 1, fn: 'min', section: '13.17', normalOnly: true },
  DataPDUInOrder: { kind: 'boolean', def: true, fn: 'or', section: '13.18', normalOnly: true },
  DataSequenceInOrder: { kind: 'boolean', def: true, fn: 'or', section: '13.19', normalOnly: true },
  ErrorRecoveryLevel: { kind: 'number', min: 0, max: 2, def: 0, fn: 'min', section: '13.20', normalOnly: false },
} as const satisfies Record<string, KeySpec>;
export type OperationalKey = keyof typeof OPERATIONAL_KEYS;

/** Negotiated session and connection parameters. Lengths in bytes, times in seconds. */
export interface OperationalParams {
  headerDigest: boolean;
  dataDigest: boolean;
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  /** What the initiator declared: the longest data segment the target may send it. */
  initiatorMaxRecvDataSegmentLength: number;
  /** What the target declared: the framer's limit for PDUs from the initiator. */
  targetMaxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxOutstandingR2T: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  errorRecoveryLevel: number;
}

/** RFC 7143 defaults (section 13), what holds for every key not negotiated. */
export function defaultParams(): OperationalParams {
  return {
    headerDigest: false, dataDigest: false, maxConnections: 1, initialR2T: true, immediateData: true,
    initiatorMaxRecvDataSegmentLength: 8192, targetMaxRecvDataSegmentLength: 8192, maxBurstLength: 262144,
    firstBurstLength: 65536, defaultTime2Wait: 2, defaultTime2Retain: 20, maxOutstandingR2T: 1, dataPDUInOrder: true,
    dataSequenceInOrder: true, errorRecoveryLevel: 0,
  };
}

/**
 * What the target is willing to do. Numbers are its own limit or wish (the result function
 * combines them with the offer), booleans its own value, digests the list it supports in order
 * of preference ("CRC32C", "None").
 */
export interface TargetPolicy {
  headerDigest: readonly string[];
  dataDigest: readonly string[];
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxOutstandingR2T: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  errorRecoveryLevel: number;
}

/** A policy close to issue 8: CRC32C allowed, ErrorRecoveryLevel 0, one connection, 256 KiB bursts. */
export function defaultPolicy(): TargetPolicy {
  return {
    headerDigest: ['CRC32C', 'None'], dataDigest: ['CRC32C', 'None'], maxConnections: 1, initialR2T: false,
    immediateData: true, maxRecvDataSegmentLength: 262144, maxBurstLength: 1048576, firstBurstLength: 262144,
    defaultTime2Wait: 2, defaultTime2Retain: 20, maxOutstandingR2T: 1, dataPDUInOrder: true, dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
  };
}

const PARAM_OF: Record<OperationalKey, keyof OperationalParams & keyof TargetPolicy | 'maxRecvDataSegmentLength'> = {
  HeaderDigest: 'headerDigest', DataDigest: 'dataDigest', MaxConnections: 'maxConnections', InitialR2T: 'initialR2T',
  ImmediateData: 'immediateData', MaxRecvDataSegmentLength: 'maxRecvDataSegmentLength', MaxBurstLength: 'maxBurstLength',
  FirstBurstLength: 'firstBurstLength', DefaultTime2Wait: 'defaultTime2Wait', DefaultTime2Retain: 'defaultTime2Retain',
  MaxOutstandingR2T: 'maxOutstandingR2T', DataPDUInOrder: 'dataPDUInOrder', DataSequenceInOrder: 'dataSequenceInOrder',
  ErrorRecoveryLevel: 'errorRecoveryLevel',
};

/** Outcome of one offered key: the reply value, and the negotiated value when there is one. */
export interface KeyResult {
  reply: string;
  value?: number | boolean | string;
}

/**
 * The target's answer to one offered operational key (6.2): a malformed or out-of-range value
 * → "Reject"; a list with nothing we support → "Reject"; numbers by their result function
 * (min/max of offer and ours), booleans by AND/OR, lists by the first offered item we support,
 * MaxRecvDataSegmentLength is declarative (we take note and declare ours separately).
 */
export function negotiateKey(key: OperationalKey, offer: string, policy: TargetPolicy): KeyResult {
  const spec: KeySpec = OPERATIONAL_KEYS[key];
  switch (spec.kind) {
    case 'list': {
      const items = parseList(offer);
      const ours = policy[PARAM_OF[key] as 'headerDigest'];
      const pick = items?.find((i) => ours.includes(i));
      return pick ? { reply: pick, value: pick } : { reply: Answer.REJECT };
    }
    case 'boolean': {
      const b = parseBoolean(offer);
      if (b === undefined) return { reply: Answer.REJECT };
      const ours = policy[PARAM_OF[key] as 'initialR2T'];
      const r = spec.fn === 'and' ? b && ours : b || ours;
      return { reply: formatBoolean(r), value: r };
    }
    case 'number': {
      const n = parseNumber(offer, spec.min, spec.max);
      if (n === undefined) return { reply: Answer.REJECT };
      const ours = policy[PARAM_OF[key] as 'maxBurstLength'];
      const r = spec.fn === 'min' ? Math.min(n, ours) : Math.max(n, ours);
      return { reply: String(r), value: r };
    }
    case 'declared': {
      const n = parseNumber(offer, spec.min, spec.max);
      return n === undefined ? { reply: Answer.REJECT } : { reply: String(policy.maxRecvDataSegmentLength), value: n };
    }
  }
}

/** Keys the operational stage passes on (login names, session type, auth) rather than negotiating. */
const DECLARATIVE_PASSTHROUGH = new Set(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType', 'AuthMethod',
  'TargetAlias', 'TargetAddress', 'TargetPortalGroupTag', 'SendTargets']);
/** Keys RFC 3720 had and RFC 7143 dropped (markers, 7143 section 13 and appendix); answered "No"/"Irrelevant". */
const OBSOLETE_BOOLEANS = new Set(['IFMarker', 'OFMarker']);
const OBSOLETE_OTHERS = new Set(['OFMarkInt', 'IFMarkInt']);

/** The outcome of one round of operational negotiation. */
export interface Negotiation {
  /** Pairs for the Login/Text Response, in the order the keys were offered, then our declarations. */
  replies: Pair[];
  /** `defaultParams()` updated with everything agreed so far (pass `prev` to carry earlier rounds). */
  params: OperationalParams;
  /** Offered keys this function does not negotiate and left to the caller (InitiatorName, CHAP_*, …). */
  other: Pair[];
  /** Keys that were answered "Reject" (the caller may end the login, 6.2). */
  rejected: string[];
}

/**
 * One round of operational negotiation (RFC 7143 sections 6.2-6.6, 13) for the pairs an
 * initiator offered. Unknown keys get "NotUnderstood"; keys irrelevant to a discovery session
 * "Irrelevant". FirstBurstLength never ends above MaxBurstLength (13.14). The target's own
 * MaxRecvDataSegmentLength is declared once, at the end, unless `declared` says it was before.
 */
export function negotiateOperational(
  offered: readonly Pair[],
  policy: TargetPolicy,
  opts: { discovery?: boolean; prev?: OperationalParams; declared?: boolean } = {},
): Negotiation {
  const params: OperationalParams = { ...(opts.prev ?? defaultParams()) };
  params.targetMaxRecvDataSegmentLength = policy.maxRecvDataSegmentLength;
  const replies: Pair[] = [];
  const other: Pair[] = [];
  const rejected: string[] = [];
  let declaredOurs = opts.declared ?? false;
  const seen = new Set<string>();
  const pending: Array<[number, string]> = [];
  for (const [key, value] of offered) {
    if (seen.has(key)) throw new TextError(`key ${key} offered twice`);
    seen.add(key);
    if (DECLARATIVE_PASSTHROUGH.has(key) || key.startsWith('CHAP_') || key.startsWith('X-') || key.startsWith('X#')) {
      other.push([key, value]);
      continue;
    }
    if (OBSOLETE_BOOLEANS.has(key)) {
      replies.push([key, parseBoolean(value) === undefined ? Answer.REJECT : 'No']);
      continue;
    }
    if (OBSOLETE_OTHERS.has(key)) {
      replies.push([key, Answer.IRRELEVANT]);
      continue;
    }
    if (!Object.hasOwn(OPERATIONAL_KEYS, key)) {
      replies.push([key, Answer.NOT_UNDERSTOOD]);
      continue;
    }
    const k = key as OperationalKey;
    if (opts.discovery && OPERATIONAL_KEYS[k].normalOnly) {
      replies.push([key, Answer.IRRELEVANT]);
      continue;
    }
    const r = negotiateKey(k, value, policy);
    if (r.value === undefined) rejected.push(key);
    else applyParam(params, k, r.value);
    if (k === 'MaxRecvDataSegmentLength') {
      // Declarative (6.2.1): the answer is our own declaration, sent once even when the offer was
      // bad (a key twice in one response is itself an error); `rejected` tells the caller.
      replies.push([key, String(policy.maxRecvDataSegmentLength)]);
      declaredOurs = true;
      continue;
    }
    if (k === 'FirstBurstLength') pending.push([replies.length, value]);
    replies.push([key, r.reply]);
  }
  if (params.firstBurstLength > params.maxBurstLength) params.firstBurstLength = params.maxBurstLength;
  for (const [i] of pending) {
    const [key, reply] = replies[i]!;
    if (reply !== Answer.REJECT) replies[i] = [key, String(params.firstBurstLength)];
  }
  if (!declaredOurs) replies.push(['MaxRecvDataSegmentLength', String(policy.maxRecvDataSegmentLength)]);
  return { replies, params, other, rejected };
}

function applyParam(p: OperationalParams, key: OperationalKey, v: number | boolean | string): void {
  switch (key) {
    case 'HeaderDigest': p.headerDigest = v === 'CRC32C'; break;
    case 'DataDigest': p.dataDigest = v === 'CRC32C'; break;
    case 'MaxRecvDataSegmentLength': p.initiatorMaxRecvDataSegmentLength = v as number; break;
    default: (p as unknown as Record<string, unknown>)[PARAM_OF[key]] = v;
  }
}

// ---- CHAP (RFC 7143 section 12.1.3, RFC 1994) ------------------------------------------------

/** CHAP_A algorithm numbers (IANA "PPP Authentication Algorithms"; 5 is the one RFC 7143 requires). */
export const ChapAlgorithm = { MD5: 5, SHA1: 6, SHA256: 7, SHA3_256: 8 } as const;
const CHAP_HASH: Record<number, { name: string; length: number }> = {
  5: { name: 'md5', length: 16 },
  6: { name: 'sha1', length: 20 },
  7: { name: 'sha256', length: 32 },
  8: { name: 'sha3-256', length: 32 },
};
/** Longest CHAP challenge/response accepted, decoded (the challenge a target sends is ≤ 1024 bytes). */
export const MAX_CHAP_BINARY = 1024;

/** The first algorithm in the initiator's CHAP_A list that we allow (default: MD5 only), else undefined. */
export function selectChapAlgorithm(offer: string, allowed: readonly number[] = [ChapAlgorithm.MD5]): number | undefined {
  for (const s of parseList(offer) ?? []) {
    const n = parseNumber(s, 0, 255);
    if (n !== undefined && allowed.includes(n) && CHAP_HASH[n]) return n;
  }
  return undefined;
}

/** Digest length of a CHAP algorithm in bytes. */
export function chapDigestLength(alg: number = ChapAlgorithm.MD5): number {
  const h = CHAP_HASH[alg];
  if (!h) throw new RangeError(`CHAP algorithm ${alg} not supported`);
  return h.length;
}

/** The CHAP response (RFC 1994 section 4.1): H(identifier byte || secret || challenge). */
export function chapResponse(id: number, secret: string | Uint8Array, challenge: Uint8Array, alg: number = ChapAlgorithm.MD5): Buffer {
  const h = CHAP_HASH[alg];
  if (!h) throw new RangeError(`CHAP algorithm ${alg} not supported`);
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`CHAP identifier ${id}`);
  return createHash(h.name).update(Buffer.from([id])).update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
    .update(challenge).digest();
}

/**
 * Checks a CHAP_R value against what `secret` gives for our `id` and `challenge`, in constant
 * time. A malformed value is simply "false" (the login fails with AUTHENTICATION_FAILURE).
 */
export function verifyChapResponse(value: string, id: number, secret: string | Uint8Array, challenge: Uint8Array, alg: number = ChapAlgorithm.MD5): boolean {
  let got: Buffer;
  try {
    got = parseBinary(value, MAX_CHAP_BINARY);
  } catch {
    return false;
  }
  const want = chapResponse(id, secret, challenge, alg);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The CHAP keys an initiator sends in its response step (and, for mutual CHAP, its own challenge). */
export interface ChapInitiatorResponse {
  name: string;
  response: Buffer;
  /** Mutual CHAP: the identifier and challenge the target must answer. */
  mutual?: { id: number; challenge: Buffer };
}

/**
 * Reads CHAP_N, CHAP_R and the optional CHAP_I/CHAP_C of mutual CHAP (12.1.3). Throws TextError
 * when a key is missing or malformed, when only one of CHAP_I/CHAP_C is present, or when the
 * initiator's challenge equals ours (a reflection attack, which 12.1.3 says to refuse).
 */
export function parseChapResponse(keys: ReadonlyMap<string, string>, ourChallenge: Uint8Array): ChapInitiatorResponse {
  const name = keys.get('CHAP_N');
  const r = keys.get('CHAP_R');
  if (name === undefined || r === undefined) throw new TextError('CHAP_N and CHAP_R required');
  const out: ChapInitiatorResponse = { name, response: parseBinary(r, MAX_CHAP_BINARY) };
  const i = keys.get('CHAP_I');
  const c = keys.get('CHAP_C');
  if ((i === undefined) !== (c === undefined)) throw new TextError('CHAP_I and CHAP_C go together');
  if (i !== undefined && c !== undefined) {
    const id = parseNumber(i, 0, 255);
    if (id === undefined) throw new TextError(`bad CHAP_I ${JSON.stringify(i)}`);
    const challenge = parseBinary(c, MAX_CHAP_BINARY);
    if (challenge.length === 0) throw new TextError('empty CHAP_C');
    if (Buffer.from(ourChallenge).equals(challenge)) throw new TextError('CHAP_C repeats the target challenge');
    out.mutual = { id, challenge };
  }
  return out;
}
