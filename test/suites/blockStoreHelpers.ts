/**
 * What blockStoreSuite.ts and blockStorePacking.ts share: the factory and harness types and the
 * helpers their cases use (deterministic bytes and text, shard corruption, segment listing).
 */
import assert from 'node:assert/strict';
import { existsSync, openSync, readdirSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRow, type BlockRow } from '../../raid/blocktable.js';
import type { BlockId, BlockStore } from '../../raid/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import type { KvStore } from '../../vfs/meta/kv.js';
import { keys } from '../../vfs/meta/keys.js';

export interface Harness {
  kv: KvStore;
  store: BlockStore;
  /** Device folders, in pool order (raid stores only). */
  devices?: string[];
  /** Closes the store and opens it again on the same KV and folders (raid stores only). */
  reopen?(): Promise<BlockStore>;
  /** Closes everything and removes temp folders. */
  cleanup(): Promise<void>;
  /** A fresh folder for replaceDevice (raid stores only). */
  spareFolder?(): string;
}

export interface BlockStoreFactory {
  name: string;
  /** True for stores with devices and redundancy: fault, scrub, rebuild and reclaim tests run. */
  faults: boolean;
  /** compression: the pool's setting ('off', 'lz4', 'zstd:3'; raid stores only; default off). */
  create(opts?: { layout?: string; segmentBytes?: number; compression?: string }): Promise<Harness>;
}

export async function putCommit(h: Harness, data: Uint8Array): Promise<BlockId> {
  const s = await h.store.put(data);
  await h.kv.txn((tx) => h.store.commit(s, tx));
  return s.id;
}

export async function rowOf(kv: KvStore, id: BlockId): Promise<BlockRow> {
  const v = await kv.get(keys.block(id));
  assert.ok(v, `row of block ${id}`);
  return decodeRow(v, id);
}

export function isEio(err: unknown): boolean {
  return err instanceof VfsError && err.errno === Errno.EIO;
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Overwrites `len` bytes at `pos` of a file with bytes that differ from what is there. */
export function corrupt(file: string, pos: number, len = 4): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, pos);
    for (let i = 0; i < len; i++) b[i] = b[i]! ^ 0x5a;
    writeSync(fd, b, 0, len, pos);
  } finally {
    closeSync(fd);
  }
}

export function segFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.dws')).map((n) => join(dir, n)) : [];
}

/** The 15 pairs of 6 devices. */
export function pairs(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) out.push([a, b]);
  return out;
}

export const WORDS = ['the', 'block', 'store', 'parity', 'shard', 'device', 'segment', 'compress', 'zstd', 'lz4', 'row', 'of', 'and', 'a',
  'checksum', 'scrub', 'rebuild', 'pool', 'data', 'file', 'read', 'write', 'erasure', 'code', 'is', 'to', 'in', 'record'];

/** Deterministic English-like text (compresses about 3-4x with lz4, more with zstd). */
export function text(n: number, seed: number): Buffer {
  const r = bytes(Math.ceil(n / 4) + 16, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = WORDS[r[i % r.length]! % WORDS.length]!;
    const sep = r[(i * 7) % r.length]! % 13 === 0 ? '.\n' : ' ';
    parts.push(w + sep);
    len += w.length + sep.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
