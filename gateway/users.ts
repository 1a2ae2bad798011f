/**
 * The gateway's user table, kept in the metadata KV under `keys.user(name)` (prefix 'U',
 * vfs/meta/keys.ts) as JSON, and the Authenticator that protocol servers check logins with.
 *
 * Record (JSON, one per user):
 *   { name, uid, gid, groups: number[],
 *     password?: { algo: 'scrypt', N, r, p, keylen, salt (base64), hash (base64) },
 *     sshKeys: string[]   (OpenSSH public key lines, "type base64 [comment]"),
 *     created: ISO time }
 *
 *     ntHash?: base64 of MD4(UTF-16LE(password)), 16 bytes: for SMB's NTLM only (see below),
 *
 * uids are allocated from 1000 up (max existing + 1, inside the KV transaction); each user gets
 * a personal group with gid = uid. Passwords are hashed with scrypt and a random 16-byte salt;
 * the cost parameters are stored with the hash so they can be raised later without breaking
 * old records. Checks compare with timingSafeEqual, and an unknown user costs the same scrypt
 * work as a known one.
 *
 * The NT hash: NTLM (SMB's login, protocols/smb) proves knowledge of MD4(UTF-16LE(password))
 * rather than of the password, so the server must keep that hash. It is password-equivalent —
 * whoever reads it can log in over SMB as the user without knowing the password, as with
 * Samba's passdb — and it is unsalted. It is written with every password (`dw user add`,
 * `dw user passwd`, the first admin of `dw serve`) next to the scrypt hash, used for nothing but
 * SMB, and dropped with the user. Users whose password was set before SMB support have none;
 * SMB refuses them (and logs why) until the password is set again.
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { KvStore } from '../vfs/meta/kv.js';
import { keys, prefixEnd } from '../vfs/meta/keys.js';
import type { Authenticator, Principal } from '../vfs/types.js';
import { ntHash as ntHashOf, type SmbAccount } from '../protocols/smb/index.js';
import { CliError, UsageError } from './errors.js';

const sshUtils = ssh2.utils;

export interface PasswordHash {
  algo: 'scrypt';
  N: number;
  r: number;
  p: number;
  keylen: number;
  salt: string;
  hash: string;
}

export interface UserRecord {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
  password?: PasswordHash;
  /** base64 NT hash (password-equivalent; SMB only). Absent for passwords set before SMB support. */
  ntHash?: string;
  sshKeys: string[];
  created: string;
}

/** What `dw user list` shows: never the hash. */
export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
  hasPassword: boolean;
  /** The password can be used over SMB (an NT hash is stored with it). */
  smb: boolean;
  sshKeys: string[];
  created: string;
}

export const FIRST_UID = 1000;
/** scrypt cost: N=2^15, r=8, p=1 takes ~50-100 ms and 32 MiB on one core. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32 };
const MAX_PASSWORD_BYTES = 1024;
const MAX_KEYS = 64;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/**
 * Throws UsageError unless `name` is a valid user name: 1-32 characters, letters, digits,
 * '_', '.', '-', starting with a letter or '_'.
 */
export function validateUserName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new UsageError(
      `invalid user name ${JSON.stringify(name)}: use 1-32 characters from A-Z a-z 0-9 _ . -, starting with a letter or _`,
    );
  }
}

function validatePassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) throw new UsageError('the password must not be empty');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new UsageError(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  if (password.includes('\0')) throw new UsageError('the password must not contain NUL');
}

function scrypt(password: string, salt: Buffer, p: { N: number; r: number; p: number; keylen: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, p.keylen, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password with scrypt and a fresh random salt. */
export async function hashPassword(password: string): Promise<PasswordHash> {
  validatePassword(password);
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT);
  return { algo: 'scrypt', ...SCRYPT, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/** True if `password` matches `h` (constant-time compare). */
export async function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  if (h.algo !== 'scrypt') return false;
  const expected = Buffer.from(h.hash, 'base64');
  const got = await scrypt(password, Buffer.from(h.salt, 'base64'), { N: h.N, r: h.r, p: h.p, keylen: expected.length });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * Parses OpenSSH public key text (an authorized_keys file or one .pub file) into normalized
 * lines "type base64 comment". Blank lines and '#' comments are skipped; a leading options
 * field ("from=... ssh-ed25519 AAAA...") is dropped. Throws UsageError for a private key or a
 * line that is not a public key.
 */
export function parsePublicKeys(text: string): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new UsageError('that is a private key: pass the public key (the .pub file) instead');
  }
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const at = fields.findIndex((f) => /^(ssh-|ecdsa-|sk-)/.test(f));
    const keyText = at >= 0 ? fields.slice(at).join(' ') : line;
    const parsed = sshUtils.parseKey(keyText);
    if (parsed instanceof Error || Array.isArray(parsed) || parsed.isPrivateKey()) {
      throw new UsageError(`line ${i + 1} is not an OpenSSH public key ("type base64 [comment]")`);
    }
    const blob = parsed.getPublicSSH();
    const comment = fields.slice(at >= 0 ? at + 2 : 2).join(' ');
    out.push(`${parsed.type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`);
  }
  if (!out.length) throw new UsageError('no public key found in the key text');
  return out;
}

function keyBlob(line: string): Buffer | null {
  const parsed = sshUtils.parseKey(line);
  if (parsed instanceof Error || Array.isArray(parsed)) return null;
  return parsed.getPublicSSH();
}

function toInfo(r: UserRecord): UserInfo {
  return { name: r.name, uid: r.uid, gid: r.gid, groups: [...r.groups], hasPassword: !!r.password, smb: !!r.password && !!r.ntHash, sshKeys: [...r.sshKeys], created: r.created };
}

function toPrincipal(r: UserRecord): Principal {
  return { name: r.name, uid: r.uid, gid: r.gid, groups: [...r.groups] };
}

function decode(v: Buffer): UserRecord {
  return JSON.parse(v.toString('utf8')) as UserRecord;
}

/**
 * The user table over a KvStore; also the Authenticator given to protocol servers.
 * Successful password checks are remembered (as an HMAC under a per-process random key, tied
 * to the stored hash) so that WebDAV's per-request Basic auth does not pay scrypt each time;
 * changing or removing the user's password invalidates it because the stored hash changes.
 */
export class UserStore implements Authenticator {
  private readonly cacheKey = randomBytes(32);
  private readonly okCache = new Set<string>();
  private dummy: Promise<PasswordHash> | null = null;

  constructor(private readonly kv: KvStore) {}

  /** The record, or undefined. */
  async get(name: string): Promise<UserRecord | undefined> {
    if (typeof name !== 'string' || !NAME_RE.test(name)) return undefined;
    const v = await this.kv.get(keys.user(name));
    return v ? decode(v) : undefined;
  }

  /** All users in name order. */
  async list(): Promise<UserInfo[]> {
    const out: UserInfo[] = [];
    const p = keys.userPrefix();
    for await (const [, v] of this.kv.scan(p, prefixEnd(p))) out.push(toInfo(decode(v)));
    return out;
  }

  /** True when the table has at least one user. */
  async any(): Promise<boolean> {
    const p = keys.userPrefix();
    for await (const _ of this.kv.scan(p, prefixEnd(p), { limit: 1 })) return true;
    return false;
  }

  /**
   * Adds a user with a password and/or public keys (OpenSSH text, see parsePublicKeys).
   * Throws UsageError (bad name, empty password, bad key, neither given) or CliError 'EEXIST'.
   */
  async add(name: string, opts: { password?: string; sshKeys?: string }): Promise<UserInfo> {
    validateUserName(name);
    if (opts.password === undefined && opts.sshKeys === undefined) {
      throw new UsageError('give the new user a --password or an --ssh-key (or both)');
    }
    const password = opts.password !== undefined ? await hashPassword(opts.password) : undefined;
    const sshKeys = opts.sshKeys !== undefined ? parsePublicKeys(opts.sshKeys) : [];
    if (sshKeys.length > MAX_KEYS) throw new UsageError(`at most ${MAX_KEYS} keys per user`);
    return this.kv.txn(async (tx) => {
      if (await tx.get(keys.user(name))) throw new CliError(`user ${name} already exists`, 'EEXIST');
      let uid = FIRST_UID - 1;
      const p = keys.userPrefix();
      for await (const [, v] of tx.scan(p, prefixEnd(p))) uid = Math.max(uid, decode(v).uid);
      uid += 1;
      const rec: UserRecord = { name, uid, gid: uid, groups: [uid], sshKeys, created: new Date().toISOString() };
      if (password) {
        rec.password = password;
        rec.ntHash = ntHashOf(opts.password!).toString('base64');
      }
      tx.set(keys.user(name), Buffer.from(JSON.stringify(rec)));
      return toInfo(rec);
    }, { sync: true });
  }

  /** Removes a user. Throws CliError 'ENOENT' if there is none. Files keep their uid. */
  async remove(name: string): Promise<void> {
    validateUserName(name);
    await this.kv.txn(async (tx) => {
      if (!(await tx.get(keys.user(name)))) throw new CliError(`no user named ${name}`, 'ENOENT');
      tx.delete(keys.user(name));
    }, { sync: true });
  }

  /** Sets a new password. Throws UsageError or CliError 'ENOENT'. */
  async setPassword(name: string, password: string): Promise<void> {
    validateUserName(name);
    const h = await hashPassword(password);
    const nt = ntHashOf(password).toString('base64');
    await this.update(name, (r) => {
      r.password = h;
      r.ntHash = nt;
    });
  }

  /** Adds public keys (OpenSSH text) to a user, skipping ones it already has. */
  async addKeys(name: string, keyText: string): Promise<UserInfo> {
    validateUserName(name);
    const add = parsePublicKeys(keyText);
    return this.update(name, (r) => {
      const have = new Set(r.sshKeys.map((l) => keyBlob(l)?.toString('base64')));
      for (const l of add) if (!have.has(keyBlob(l)?.toString('base64'))) r.sshKeys.push(l);
      if (r.sshKeys.length > MAX_KEYS) throw new UsageError(`at most ${MAX_KEYS} keys per user`);
    });
  }

  private async update(name: string, fn: (r: UserRecord) => void): Promise<UserInfo> {
    return this.kv.txn(async (tx) => {
      const v = await tx.get(keys.user(name));
      if (!v) throw new CliError(`no user named ${name}`, 'ENOENT');
      const r = decode(v);
      fn(r);
      tx.set(keys.user(name), Buffer.from(JSON.stringify(r)));
      return toInfo(r);
    }, { sync: true });
  }

  /** Authenticator: the principal if `password` is the user's password, else null. */
  async checkPassword(user: string, password: string): Promise<Principal | null> {
    if (typeof password !== 'string' || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return null;
    const rec = await this.get(user);
    if (!rec || !rec.password) {
      // Same work as a real check, so timing does not tell which users exist.
      this.dummy ??= hashPassword('dummy password');
      await verifyPassword(password, await this.dummy).catch(() => false);
      return null;
    }
    const tag = createHmac('sha256', this.cacheKey).update(`${rec.name}\0${rec.password.hash}\0${password}`).digest('base64');
    if (this.okCache.has(tag)) return toPrincipal(rec);
    if (!(await verifyPassword(password, rec.password))) return null;
    if (this.okCache.size >= 4096) this.okCache.clear();
    this.okCache.add(tag);
    return toPrincipal(rec);
  }

  /**
   * The SMB view of a user (protocols/smb AccountLookup): the principal and the NT hash, which
   * is undefined when the password predates SMB support or the user has none. User names are
   * tried as given, then in lower case (Windows clients may change the case).
   */
  async smbAccount(user: string): Promise<SmbAccount | undefined> {
    const rec = (await this.get(user)) ?? (user !== user.toLowerCase() ? await this.get(user.toLowerCase()) : undefined);
    if (!rec) return undefined;
    const nt = rec.password && rec.ntHash ? Buffer.from(rec.ntHash, 'base64') : undefined;
    return { principal: toPrincipal(rec), ntHash: nt && nt.length === 16 ? nt : undefined };
  }

  /** Authenticator: the principal if the key blob (SSH wire format) is one of the user's keys. */
  async checkPublicKey(user: string, _algo: string, key: Buffer): Promise<Principal | null> {
    const rec = await this.get(user);
    if (!rec) return null;
    for (const line of rec.sshKeys) {
      const blob = keyBlob(line);
      if (blob && blob.length === key.length && timingSafeEqual(blob, key)) return toPrincipal(rec);
    }
    return null;
  }
}

/** A random password for the first 'admin' user: 20 characters from a URL-safe alphabet. */
export function randomPassword(): string {
  // base64url may begin with '-' or '_': such a password reads as an option to a command line
  // (curl -u, litmus, sshpass -p) — found when litmus got one. Start with a letter or a digit.
  for (;;) {
    const p = randomBytes(15).toString('base64url');
    if (/^[A-Za-z0-9]/.test(p)) return p;
  }
}
