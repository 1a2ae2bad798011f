import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { Errno, VfsError } from '../vfs/errno.js';
import { type BlockKeys, KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './crypt.js';
import { ByteReader, ByteWriter, DecodeError } from './reader.js';

/**
 * The keys of an encrypted pool (issue 5, "Encryption at rest").
 *
 * Each pool has random 32-byte data keys (id 1 at creation; `dw key reencrypt` adds the next
 * and makes it current, raid/reencrypt.ts) that seal blocks (crypt.ts). They are stored only wrapped: AES-256-GCM under a
 * master key that is never stored, derived from
 *
 * - a passphrase: scrypt(passphrase as UTF-8 NFC, salt, N = 2^logN, r, p) → 32 bytes, or
 * - a key file of 32 random bytes (raw, or as 64 hex digits): HKDF-SHA256(file key, salt,
 *   'dw master key') → 32 bytes.
 *
 * The wrapped keys and the derivation's parameters form the key record, kept base64 in the pool
 * row's `encryption` field (poolstate.ts). Little-endian, decoded through ByteReader:
 *
 *   magic 'DWKR' u32 | version u8 (1) | source u8 (1 passphrase, 2 key file) | kdf u8 (1 scrypt, 2 hkdf-sha256)
 *   | cipher u8 (1 = AES-256-GCM, for blocks and wrapping)
 *   scrypt only: logN u8 (10..22) | r u8 (1..32) | p u8 (1..16)     (and 128·2^logN·r ≤ 1 GiB)
 *   saltLen u8 (16..64) | salt
 *   current u32 (the data key id new blocks use; one of the ids below)
 *   count u8 (1..8) | count × ( id u32 (≥ 1, distinct) | nonce 12 | wrapped key 32 | tag 16 )
 *
 * A wrapped key's GCM additional data is 'DWKW' | pool id (16 bytes) | key id u32, so a wrapped
 * key does not unwrap in another pool or under another id. A wrong passphrase or key file fails
 * the tag of the first key: that is the check, before anything is written (openPool).
 *
 * Rotation (`dw key rotate`) rewraps the same data keys under a new master key (fresh salt and
 * nonces; the source may change between passphrase and key file): no block is rewritten.
 */

/** Where the master key comes from. */
export type KeySource = 'passphrase' | 'keyfile';

/** A master-key secret as the user gives it. */
export type Secret = { kind: 'passphrase'; passphrase: string } | { kind: 'keyfile'; key: Buffer };

/** scrypt cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

/** OWASP's scrypt minimum (N = 2^17, r = 8, p = 1): 128 MiB and about 0.3 s here per unlock. */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 17, r: 8, p: 1 };

export interface WrappedKey {
  id: number;
  nonce: Buffer;
  /** The data key under AES-256-GCM: 32 bytes of ciphertext then the 16-byte tag. */
  wrapped: Buffer;
}

export interface KeyRecord {
  source: KeySource;
  kdf: ({ kind: 'scrypt' } & ScryptParams) | { kind: 'hkdf' };
  salt: Buffer;
  current: number;
  keys: WrappedKey[];
}

const MAGIC = 0x524b5744; // 'D' 'W' 'K' 'R'
const VERSION = 1;
const SRC = { passphrase: 1, keyfile: 2 } as const;
const KDF_SCRYPT = 1;
const KDF_HKDF = 2;
const CIPHER_GCM = 1;
const MAX_KEYS = 8;
const SALT_MIN = 16;
const SALT_MAX = 64;
const SALT_BYTES = 32;
/** Most memory a record may make scrypt use: a garbage row cannot ask for more. */
const SCRYPT_MAX_MEM = 1 << 30;
const WRAP_AAD = 0x574b5744; // 'D' 'W' 'K' 'W'
const HKDF_INFO = 'dw master key';
const DEDUP_INFO = 'dw dedup hash';
const NAMES_INFO = 'dw names key';
const PASSPHRASE_MAX = 4096;

function checkScrypt(s: ScryptParams): string | undefined {
  if (!Number.isInteger(s.logN) || s.logN < 10 || s.logN > 22) return `scrypt logN ${s.logN} is outside 10..22`;
  if (!Number.isInteger(s.r) || s.r < 1 || s.r > 32) return `scrypt r ${s.r} is outside 1..32`;
  if (!Number.isInteger(s.p) || s.p < 1 || s.p > 16) return `scrypt p ${s.p} is outside 1..16`;
  if (128 * 2 ** s.logN * s.r > SCRYPT_MAX_MEM) return `scrypt N=2^${s.logN}, r=${s.r} needs more than 1 GiB`;
  return undefined;
}

export function encodeKeyRecord(rec: KeyRecord): Buffer {
  const scryptPart = rec.kdf.kind === 'scrypt' ? 3 : 0;
  const b = Buffer.alloc(8 + scryptPart + 1 + rec.salt.length + 4 + 1 + rec.keys.length * (4 + NONCE_BYTES + KEY_BYTES + TAG_BYTES));
  const w = new ByteWriter(b).u32(MAGIC).u8(VERSION).u8(SRC[rec.source]).u8(rec.kdf.kind === 'scrypt' ? KDF_SCRYPT : KDF_HKDF).u8(CIPHER_GCM);
  if (rec.kdf.kind === 'scrypt') w.u8(rec.kdf.logN).u8(rec.kdf.r).u8(rec.kdf.p);
  w.u8(rec.salt.length).bytes(rec.salt).u32(rec.current).u8(rec.keys.length);
  for (const k of rec.keys) w.u32(k.id).bytes(k.nonce).bytes(k.wrapped);
  return b;
}

/** Decodes a key record; throws DecodeError on anything malformed (bounds-checked, no large allocation). */
export function decodeKeyRecordStrict(buf: Uint8Array): KeyRecord {
  const r = new ByteReader(buf);
  if (r.u32('magic') !== MAGIC) throw new DecodeError('not a key record (bad magic)');
  const version = r.u8('version');
  if (version !== VERSION) throw new DecodeError(`unknown key record version ${version}`);
  const src = r.u8('source');
  const source: KeySource | undefined = src === SRC.passphrase ? 'passphrase' : src === SRC.keyfile ? 'keyfile' : undefined;
  if (!source) throw new DecodeError(`unknown key source ${src}`);
  const kdfId = r.u8('kdf');
  const cipher = r.u8('cipher');
  if (cipher !== CIPHER_GCM) throw new DecodeError(`unknown cipher ${cipher}`);
  let kdf: KeyRecord['kdf'];
  if (kdfId === KDF_SCRYPT) {
    const s = { logN: r.u8('scrypt logN'), r: r.u8('scrypt r'), p: r.u8('scrypt p') };
    const bad = checkScrypt(s);
    if (bad) throw new DecodeError(bad);
    kdf = { kind: 'scrypt', ...s };
  } else if (kdfId === KDF_HKDF) {
    kdf = { kind: 'hkdf' };
  } else {
    throw new DecodeError(`unknown key derivation ${kdfId}`);
  }
  if ((source === 'passphrase') !== (kdf.kind === 'scrypt')) throw new DecodeError('key derivation does not fit the key source');
  const saltLen = r.u8('salt length');
  if (saltLen < SALT_MIN) throw new DecodeError(`salt of ${saltLen} bytes is shorter than ${SALT_MIN}`);
  const salt = Buffer.from(r.bytes(saltLen, SALT_MAX, 'salt'));
  const current = r.u32('current key id');
  const count = r.u8('key count');
  if (count < 1 || count > MAX_KEYS) throw new DecodeError(`key count ${count} is outside 1..${MAX_KEYS}`);
  const keys: WrappedKey[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u32('key id');
    if (id < 1 || keys.some((k) => k.id === id)) throw new DecodeError(`bad or repeated key id ${id}`);
    keys.push({ id, nonce: Buffer.from(r.bytes(NONCE_BYTES, NONCE_BYTES, 'nonce')), wrapped: Buffer.from(r.bytes(KEY_BYTES + TAG_BYTES, KEY_BYTES + TAG_BYTES, 'wrapped key')) });
  }
  if (r.remaining !== 0) throw new DecodeError('trailing bytes');
  if (!keys.some((k) => k.id === current)) throw new DecodeError(`current key id ${current} is not in the record`);
  return { source, kdf, salt, current, keys };
}

/** Decodes the pool row's `encryption` text (base64 key record); anything malformed is EIO (metadata corruption). */
export function decodeKeyRecord(text: string): KeyRecord {
  try {
    if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length > 4096) throw new DecodeError('not base64');
    return decodeKeyRecordStrict(Buffer.from(text, 'base64'));
  } catch (e) {
    if (e instanceof DecodeError) throw new VfsError(Errno.EIO, `pool state row has a corrupt key record: ${e.message}`);
    throw e;
  }
}

/**
 * Parses a key file's bytes: exactly 32 bytes, or 64 hex digits (surrounding whitespace, e.g. a
 * final newline, ignored). Throws VfsError EINVAL saying what a key file holds.
 */
export function parseKeyFile(bytes: Uint8Array, name = 'the key file'): Buffer {
  if (bytes.length === KEY_BYTES) return Buffer.from(bytes);
  const text = bytes.length <= 256 ? Buffer.from(bytes).toString('latin1').trim() : '';
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  throw new VfsError(Errno.EINVAL, `${name} must hold 32 raw bytes or 64 hex digits (it has ${bytes.length} bytes)`);
}

/** Checks a secret's shape; VfsError EINVAL. */
function checkSecret(s: Secret): void {
  if (s.kind === 'keyfile') {
    if (!Buffer.isBuffer(s.key) || s.key.length !== KEY_BYTES) throw new VfsError(Errno.EINVAL, 'a key file key must be 32 bytes');
  } else if (typeof s.passphrase !== 'string' || s.passphrase.length === 0) {
    throw new VfsError(Errno.EINVAL, 'the passphrase is empty');
  } else if (s.passphrase.length > PASSPHRASE_MAX) {
    throw new VfsError(Errno.EINVAL, `the passphrase is longer than ${PASSPHRASE_MAX} characters`);
  }
}

function scryptAsync(pass: Buffer, salt: Buffer, s: ScryptParams): Promise<Buffer> {
  const N = 2 ** s.logN;
  return new Promise((resolve, reject) => {
    scrypt(pass, salt, KEY_BYTES, { N, r: s.r, p: s.p, maxmem: 2 * 128 * N * s.r + (16 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The master key of `secret` under the record's derivation (scrypt runs in libuv's thread pool). */
async function masterKey(rec: Pick<KeyRecord, 'kdf' | 'salt'>, secret: Secret): Promise<Buffer> {
  if (rec.kdf.kind === 'scrypt') {
    if (secret.kind !== 'passphrase') throw new VfsError(Errno.EINVAL, 'a passphrase is needed');
    const pass = Buffer.from(secret.passphrase.normalize('NFC'), 'utf8');
    try {
      return await scryptAsync(pass, rec.salt, rec.kdf);
    } finally {
      pass.fill(0);
    }
  }
  if (secret.kind !== 'keyfile') throw new VfsError(Errno.EINVAL, 'a key file is needed');
  return Buffer.from(hkdfSync('sha256', secret.key, rec.salt, HKDF_INFO, KEY_BYTES));
}

function wrapAad(poolId: string, keyId: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(WRAP_AAD, 0);
  Buffer.from(poolId, 'hex').copy(b, 4, 0, 16);
  b.writeUInt32LE(keyId >>> 0, 20);
  return b;
}

function wrap(master: Buffer, poolId: string, id: number, dataKey: Buffer): WrappedKey {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', master, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(wrapAad(poolId, id));
  const wrapped = Buffer.concat([c.update(dataKey), c.final(), c.getAuthTag()]);
  return { id, nonce, wrapped };
}

function unwrap(master: Buffer, poolId: string, k: WrappedKey): Buffer | undefined {
  const d = createDecipheriv('aes-256-gcm', master, k.nonce, { authTagLength: TAG_BYTES });
  d.setAAD(wrapAad(poolId, k.id));
  d.setAuthTag(k.wrapped.subarray(KEY_BYTES));
  const key = d.update(k.wrapped.subarray(0, KEY_BYTES));
  try {
    d.final();
    return key;
  } catch {
    key.fill(0);
    return undefined;
  }
}

/** The unwrapped data keys of an open pool: what the store seals and opens blocks with. */
export class Keyring implements BlockKeys {
  /**
   * Secret keying the pool's content hashes for dedup: HKDF-SHA256(first data key, no salt,
   * 'dw dedup hash'), 32 bytes. Equal plaintexts in two pools get unrelated hashes.
   */
  readonly dedupKey: Buffer;
  /**
   * Secret for sealing names, xattrs and symlink targets in the metadata (vfs/meta/names.ts
   * nameCipher): HKDF-SHA256(first data key, no salt, 'dw names key'), 32 bytes.
   *
   * Both come from the data key with the lowest id (the pool's first), not the current one: the
   * dedup index and the sealed names stay valid when `dw key reencrypt` moves blocks to a new
   * data key (which therefore keeps the first key in the record; raid/README.md "Encryption").
   */
  readonly namesKey: Buffer;
  constructor(current: number, private readonly keys: Map<number, Buffer>) {
    if (!keys.get(current)) throw new RangeError(`no data key ${current}`);
    this.cur = current;
    this.root = Math.min(...keys.keys());
    const root = keys.get(this.root)!;
    this.dedupKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), DEDUP_INFO, KEY_BYTES));
    this.namesKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), NAMES_INFO, KEY_BYTES));
  }
  private cur: number;
  /** Id of the pool's first data key (the lowest): the derived keys come from it, so it is never dropped. */
  readonly root: number;
  /** Id of the data key new blocks are sealed with. */
  get current(): number {
    return this.cur;
  }
  key(id: number): Buffer | undefined {
    return this.keys.get(id);
  }
  /** Ids of the data keys held, ascending. */
  ids(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }
  /**
   * `dw key reencrypt` start (raid/reencrypt.ts): adds data key `id` (a copy of `key`, 32 bytes)
   * and seals new blocks with it from now on. Call only once the pool row that records it is written.
   */
  addCurrent(id: number, key: Buffer): void {
    if (key.length !== KEY_BYTES || id <= this.root || this.keys.has(id)) throw new RangeError(`cannot add data key ${id}`);
    this.keys.set(id, Buffer.from(key));
    this.cur = id;
  }
  /** Forgets a retired data key (reencrypt finished); never the current or the first one. */
  drop(id: number): void {
    if (id === this.cur || id === this.root) throw new RangeError(`data key ${id} is still needed`);
    this.keys.get(id)?.fill(0);
    this.keys.delete(id);
  }
  /** Zeroes every key held (a keyring only used to check a secret). */
  wipe(): void {
    for (const k of this.keys.values()) k.fill(0);
    this.keys.clear();
  }
}

/** The message of a refused secret (gateway prints it as it is). */
export function wrongSecretMessage(poolId: string, source: KeySource): string {
  return `wrong ${source === 'passphrase' ? 'passphrase' : 'key file'} for pool ${poolId}: the data key did not unwrap`;
}

function sourceMismatch(poolId: string, rec: KeyRecord, secret: Secret): VfsError | undefined {
  if ((rec.source === 'passphrase') === (secret.kind === 'passphrase')) return undefined;
  return new VfsError(Errno.EINVAL, rec.source === 'passphrase'
    ? `pool ${poolId} is locked with a passphrase, not a key file`
    : `pool ${poolId} is locked with a key file, not a passphrase`);
}

/**
 * Unwraps every data key of `rec` with `secret`. Throws VfsError EACCES (wrongSecretMessage)
 * when a tag fails, EINVAL when the secret is of the other kind or malformed. Pure: reads and
 * writes nothing but memory.
 */
export async function unlockKeyRecord(poolId: string, rec: KeyRecord, secret: Secret): Promise<Keyring> {
  checkSecret(secret);
  const mismatch = sourceMismatch(poolId, rec, secret);
  if (mismatch) throw mismatch;
  const master = await masterKey(rec, secret);
  try {
    const keys = new Map<number, Buffer>();
    for (const k of rec.keys) {
      const dk = unwrap(master, poolId, k);
      if (!dk) throw new VfsError(Errno.EACCES, wrongSecretMessage(poolId, rec.source));
      keys.set(k.id, dk);
    }
    return new Keyring(rec.current, keys);
  } finally {
    master.fill(0);
  }
}

async function wrapAll(poolId: string, secret: Secret, keys: Map<number, Buffer>, current: number, scryptParams: ScryptParams | undefined): Promise<KeyRecord> {
  checkSecret(secret);
  const s = scryptParams ?? DEFAULT_SCRYPT;
  const bad = checkScrypt(s);
  if (bad) throw new VfsError(Errno.EINVAL, bad);
  const base = { salt: randomBytes(SALT_BYTES), kdf: secret.kind === 'passphrase' ? { kind: 'scrypt' as const, ...s } : { kind: 'hkdf' as const } };
  const master = await masterKey(base, secret);
  try {
    return { source: secret.kind, ...base, current, keys: [...keys].map(([id, dk]) => wrap(master, poolId, id, dk)) };
  } finally {
    master.fill(0);
  }
}

/** A new pool's key record: one random data key (id 1) wrapped under `secret`'s master key. */
export async function newKeyRecord(poolId: string, secret: Secret, scryptParams?: ScryptParams): Promise<KeyRecord> {
  const dk = randomBytes(KEY_BYTES);
  try {
    return await wrapAll(poolId, secret, new Map([[1, dk]]), 1, scryptParams);
  } finally {
    dk.fill(0);
  }
}

/**
 * Rotation: unwraps `rec` with `oldSecret` (EACCES/EINVAL as unlockKeyRecord) and wraps the same
 * data keys under `newSecret` (either kind) with a fresh salt and nonces. No data is rewritten.
 */
export async function rewrapKeyRecord(poolId: string, rec: KeyRecord, oldSecret: Secret, newSecret: Secret, scryptParams?: ScryptParams): Promise<KeyRecord> {
  checkSecret(newSecret);
  const ring = await unlockKeyRecord(poolId, rec, oldSecret);
  const keys = new Map(rec.keys.map((k) => [k.id, ring.key(k.id)!]));
  try {
    return await wrapAll(poolId, newSecret, keys, rec.current, scryptParams ?? (rec.kdf.kind === 'scrypt' ? rec.kdf : undefined));
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/**
 * `dw key reencrypt` start: unwraps every data key of `rec` with `secret` (the check: EACCES for a
 * wrong one, EINVAL for the other kind), makes a new random data key with the next id (highest + 1)
 * and wraps it under the same master key (same salt and derivation: the other wrapped keys stay
 * byte for byte), and makes it current. Returns the new record, the new key's id and its 32 bytes
 * (the caller zeroes them). EINVAL when the record already holds the most keys it can (8).
 */
export async function addDataKey(poolId: string, rec: KeyRecord, secret: Secret): Promise<{ rec: KeyRecord; id: number; key: Buffer }> {
  checkSecret(secret);
  const mismatch = sourceMismatch(poolId, rec, secret);
  if (mismatch) throw mismatch;
  if (rec.keys.length >= MAX_KEYS) throw new VfsError(Errno.EINVAL, `pool ${poolId} already has ${MAX_KEYS} data keys, the most a key record holds`);
  const master = await masterKey(rec, secret);
  try {
    for (const k of rec.keys) {
      const dk = unwrap(master, poolId, k);
      if (!dk) throw new VfsError(Errno.EACCES, wrongSecretMessage(poolId, rec.source));
      dk.fill(0);
    }
    const id = Math.max(...rec.keys.map((k) => k.id)) + 1;
    if (id > 0xffffffff) throw new VfsError(Errno.EINVAL, 'no data key id left');
    const key = randomBytes(KEY_BYTES);
    return { rec: { ...rec, current: id, keys: [...rec.keys, wrap(master, poolId, id, key)] }, id, key };
  } finally {
    master.fill(0);
  }
}

/** The record without the data keys `ids` (reencrypt finished). RangeError for the current key or an absent id. */
export function dropDataKeys(rec: KeyRecord, ids: readonly number[]): KeyRecord {
  for (const id of ids) if (id === rec.current || !rec.keys.some((k) => k.id === id)) throw new RangeError(`cannot drop data key ${id}`);
  return { ...rec, keys: rec.keys.filter((k) => !ids.includes(k.id)) };
}

/** Text of a record for `dw key status` / `dw pool status`: 'aes-256-gcm, passphrase (scrypt N=2^17 r=8 p=1), 1 data key'. */
export function describeKeyRecord(rec: KeyRecord): string {
  const how = rec.kdf.kind === 'scrypt' ? `passphrase (scrypt N=2^${rec.kdf.logN} r=${rec.kdf.r} p=${rec.kdf.p})` : 'key file (hkdf-sha256)';
  return `aes-256-gcm, ${how}, ${rec.keys.length} data key${rec.keys.length === 1 ? '' : 's'}`;
}
