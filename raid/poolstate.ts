import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore, KvTxn } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { type Compression, OFF, parseCompression } from './compress.js';
import { decodeKeyRecord, type KeyRecord } from './keys.js';

/**
 * The pool state row: key 'P' 'pool' (vfs/meta/keys.ts), value JSON:
 * `{ format: 1, id, layout, devices: [path…], segmentBytes, created, rebuilding?, compression? }`.
 * `rebuilding` names a device whose replacement was started and not finished.
 *
 * `compression` ('off', 'lz4', 'zstd:LEVEL'; compress.ts) is the setting for new blocks. Rows
 * written before it existed have none and mean 'off', so an existing pool does not change. It is
 * an optional field, not a format bump: an older build keeps the field when it rewrites the row
 * (updatePoolState rewrites the whole object) and refuses compressed blocks themselves by their
 * row version (blocktable.ts).
 *
 * `dedup` (true/false; absent = false) is whether files deduplicate their new records unless
 * their directory says otherwise (issue 5; raid/dedup.ts putChunks).
 *
 * `encryption` (issue 5) is the pool's key record, base64 (keys.ts: the wrapped data keys and how
 * the master key is derived); absent = not encrypted. An encrypted pool's row has `format: 2`,
 * so a build from before encryption refuses to open it ("malformed") rather than ignoring the key
 * and storing plaintext blocks in it; unencrypted pools keep format 1.
 *
 * `reencrypt` (issue 5, `dw key reencrypt`; raid/reencrypt.ts) is present while a walk moving every
 * block to the data key `to` is under way: see ReencryptState. Decoded strictly (decodeReencryptState):
 * anything else is EIO.
 */
export interface PoolState {
  /** 1, or 2 exactly when `encryption` is present. */
  format: 1 | 2;
  /** Pool id: 32 hex digits (16 bytes), also in every device label and segment header. */
  id: string;
  layout: string;
  devices: string[];
  segmentBytes: number;
  created: number;
  rebuilding?: number;
  compression?: string;
  dedup?: boolean;
  /** Key record (keys.ts encodeKeyRecord), base64; only on encrypted pools. */
  encryption?: string;
  /** A reencrypt under way (only on encrypted pools). */
  reencrypt?: ReencryptState;
}

/**
 * A reencrypt walk recorded in the pool row (raid/reencrypt.ts), JSON with exactly these fields:
 * `{ to, from, cursor, done, started }`.
 */
export interface ReencryptState {
  /** The data key every block moves to: the key record's current key (u32 ≥ 1). */
  to: number;
  /** The data keys blocks move from (ids in the key record, 1..7 distinct, not `to`): dropped at the end, except the record's lowest id. */
  from: number[];
  /** Block id the walk resumes from: every block with a lower id is under `to` (or gone). Integer ≥ 0, < 2^53. */
  cursor: number;
  /** Block rows visited so far (progress), integer ≥ 0. */
  done: number;
  /** When `dw key reencrypt` started it, ms since the epoch. */
  started: number;
}

const REENC_FIELDS = ['cursor', 'done', 'from', 'started', 'to'];
const isU32Id = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 0xffffffff;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Checks the pool row's `reencrypt` value (parsed JSON) against the row's key record `rec`: an
 * object with exactly the ReencryptState fields, `to` the record's current key, `from` other ids
 * of the record. Throws VfsError EIO "pool state row has a corrupt reencrypt state: …" otherwise.
 */
export function decodeReencryptState(v: unknown, rec: KeyRecord | undefined): ReencryptState {
  const bad = (why: string): never => { throw new VfsError(Errno.EIO, `pool state row has a corrupt reencrypt state: ${why}`); };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('not an object');
  const o = v as Record<string, unknown>;
  const fields = Object.keys(o).sort();
  if (fields.length !== REENC_FIELDS.length || fields.some((f, i) => f !== REENC_FIELDS[i])) return bad(`fields ${JSON.stringify(fields)}, expected ${REENC_FIELDS.join(', ')}`);
  if (!rec) return bad('the pool is not encrypted');
  if (!isU32Id(o.to)) return bad('`to` is not a key id');
  if (o.to !== rec.current) return bad(`\`to\` is key ${o.to}, the key record's current key is ${rec.current}`);
  const from = o.from;
  if (!Array.isArray(from) || from.length < 1 || from.length > 7 || !from.every(isU32Id)) return bad('`from` is not a list of 1..7 key ids');
  if (new Set(from).size !== from.length || from.includes(o.to)) return bad('`from` repeats a key id or names `to`');
  for (const id of from) if (!rec.keys.some((k) => k.id === id)) return bad(`\`from\` names key ${id}, which the key record does not hold`);
  if (!isCount(o.cursor)) return bad('`cursor` is not a block id');
  if (!isCount(o.done)) return bad('`done` is not a count');
  if (!isCount(o.started)) return bad('`started` is not a time');
  return { to: o.to, from: [...from] as number[], cursor: o.cursor, done: o.done, started: o.started };
}

/** The pool's compression setting ('off' when the row has none). */
export function compressionOf(s: PoolState): Compression {
  return s.compression === undefined ? OFF : parseCompression(s.compression);
}

export const POOL_KEY = keys.pool('pool');

/** Parses the pool row; a malformed row is EIO (metadata corruption). */
export function decodePoolState(v: Buffer): PoolState {
  let s: Partial<PoolState>;
  try {
    s = JSON.parse(v.toString('utf8')) as Partial<PoolState>;
  } catch {
    throw new VfsError(Errno.EIO, 'pool state row is not valid JSON');
  }
  if (!s || (s.format !== 1 && s.format !== 2) || (s.format === 2) !== (s.encryption !== undefined) || typeof s.id !== 'string' || !/^[0-9a-f]{32}$/.test(s.id) || typeof s.layout !== 'string' ||
    !Array.isArray(s.devices) || !s.devices.every((d) => typeof d === 'string') ||
    typeof s.segmentBytes !== 'number' || !(s.segmentBytes >= 4096)) {
    throw new VfsError(Errno.EIO, 'pool state row is malformed');
  }
  if (s.compression !== undefined) {
    try {
      parseCompression(s.compression);
    } catch {
      throw new VfsError(Errno.EIO, `pool state row has an unknown compression setting ${JSON.stringify(s.compression)}`);
    }
  }
  if (s.dedup !== undefined && typeof s.dedup !== 'boolean') throw new VfsError(Errno.EIO, 'pool state row has a dedup setting that is not true or false');
  const rec = s.encryption !== undefined ? decodeKeyRecord(s.encryption) : undefined; // EIO with the reason when corrupt
  if (s.reencrypt !== undefined) s.reencrypt = decodeReencryptState(s.reencrypt, rec);
  return s as PoolState;
}

export async function readPoolState(kv: KvStore | KvTxn): Promise<PoolState | undefined> {
  const v = await kv.get(POOL_KEY);
  return v ? decodePoolState(v) : undefined;
}

/** Changes the pool row in one transaction. */
export async function updatePoolState(kv: KvStore, fn: (s: PoolState) => void): Promise<PoolState> {
  return kv.txn(async (tx) => {
    const s = await readPoolState(tx);
    if (!s) throw new VfsError(Errno.ENOENT, 'no pool');
    fn(s);
    tx.set(POOL_KEY, Buffer.from(JSON.stringify(s)));
    return s;
  }, { sync: true });
}
