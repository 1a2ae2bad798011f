import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore, KvTxn } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { type Compression, OFF, parseCompression } from './compress.js';
import { decodeKeyRecord } from './keys.js';

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
  if (s.encryption !== undefined) decodeKeyRecord(s.encryption); // EIO with the reason when corrupt
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
