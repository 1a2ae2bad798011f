/**
 * The iSCSI target catalogue (issue 8) and its admin methods. Targets are kept in the metadata
 * KV under `keys.iscsiTarget(iqn)` (prefix 'T', vfs/meta/keys.ts), one JSON record each:
 *
 *   { iqn, luns: [{ lun, volume }], initiators: [IQN…] (empty = any initiator),
 *     chap?: { user, secret }, mutualChap?: { user, secret }, created: ISO time }
 *
 * The iSCSI server reads this table at every login (`IscsiTargetStore` is its TargetCatalog),
 * so changes made through the admin socket apply to the next login without a restart.
 * CHAP secrets are stored as given: CHAP needs the secret itself (RFC 1994), as the NT hash
 * of users.ts is kept for SMB. They are never returned by `list`.
 *
 * Methods (runAdmin in admin.ts hands every `iscsi.*` method here):
 *   iscsi.target.add { iqn, luns: [{ lun, volume }], initiators?: string[], chap?: { user, secret },
 *                      mutualChap?: { user, secret } }          → TargetInfo   (each volume must exist: ENOENT)
 *   iscsi.target.remove { iqn }                                 → { iqn }
 *   iscsi.target.list                                           → TargetInfo[]
 */
import type { KvStore } from '../vfs/meta/kv.js';
import { keys, prefixEnd } from '../vfs/meta/keys.js';
import {
  canonicalName, chapError, iscsiNameError, MAX_INITIATORS, MAX_LUNS, type ChapCredentials, type TargetCatalog, type TargetConfig,
} from '../protocols/iscsi/index.js';
import { CliError, UsageError } from './errors.js';

/** A target as stored. */
export interface TargetRecord extends TargetConfig {
  created: string;
}

/** What `dw iscsi target list` shows: never a secret. */
export interface TargetInfo {
  iqn: string;
  luns: { lun: number; volume: string }[];
  initiators: string[];
  chap?: { user: string };
  mutualChap?: { user: string };
  created: string;
}

/** Volume names as `dw volume` has them (vfs/types.ts Volumes), with '@SNAP' for a snapshot (read-only LUN). */
const VOLUME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9_-][A-Za-z0-9._-]{0,63})?$/;

function info(r: TargetRecord): TargetInfo {
  return {
    iqn: r.iqn, luns: r.luns.map((l) => ({ ...l })), initiators: [...r.initiators],
    ...(r.chap ? { chap: { user: r.chap.user } } : {}), ...(r.mutualChap ? { mutualChap: { user: r.mutualChap.user } } : {}), created: r.created,
  };
}

function decode(v: Buffer): TargetRecord {
  return JSON.parse(v.toString('utf8')) as TargetRecord;
}

/**
 * Checks a target before it is stored. Throws UsageError naming what is wrong: the IQN
 * (iqn./eui./naa. forms of RFC 7143 section 4.2.7), LUNs (0..16383, each once, at least one,
 * volume names), initiator IQNs, CHAP (user, secret 12..255 bytes), mutual CHAP (needs CHAP,
 * and a secret different from the initiator's, RFC 7143 section 12.1.3).
 */
export function checkTarget(t: { iqn: unknown; luns: unknown; initiators?: unknown; chap?: unknown; mutualChap?: unknown }): TargetConfig {
  if (typeof t.iqn !== 'string') throw new UsageError('missing the target IQN');
  const bad = iscsiNameError(t.iqn);
  if (bad) throw new UsageError(bad);
  if (!Array.isArray(t.luns) || t.luns.length === 0) throw new UsageError('give the target at least one LUN: --lun 0=VOLUME');
  if (t.luns.length > MAX_LUNS) throw new UsageError(`at most ${MAX_LUNS} LUNs per target`);
  const luns: { lun: number; volume: string }[] = [];
  for (const l of t.luns as unknown[]) {
    const o = l as { lun?: unknown; volume?: unknown };
    if (!o || typeof o !== 'object' || typeof o.lun !== 'number' || !Number.isInteger(o.lun) || o.lun < 0 || o.lun > 0x3fff) {
      throw new UsageError('a LUN is a number 0..16383: --lun 0=VOLUME');
    }
    if (typeof o.volume !== 'string' || !VOLUME_RE.test(o.volume)) throw new UsageError(`LUN ${o.lun}: "${String(o.volume)}" is not a volume name`);
    if (luns.some((x) => x.lun === o.lun)) throw new UsageError(`LUN ${o.lun} is given twice`);
    luns.push({ lun: o.lun, volume: o.volume });
  }
  luns.sort((a, b) => a.lun - b.lun);
  const initiators: string[] = [];
  if (t.initiators !== undefined && t.initiators !== null) {
    if (!Array.isArray(t.initiators)) throw new UsageError('initiators must be a list of IQNs');
    if (t.initiators.length > MAX_INITIATORS) throw new UsageError(`at most ${MAX_INITIATORS} initiators per target`);
    for (const i of t.initiators as unknown[]) {
      if (typeof i !== 'string') throw new UsageError('an initiator is an IQN');
      const e = iscsiNameError(i);
      if (e) throw new UsageError(`--initiator: ${e}`);
      const c = canonicalName(i);
      if (!initiators.includes(c)) initiators.push(c);
    }
  }
  const chap = optChap(t.chap, 'CHAP');
  const mutualChap = optChap(t.mutualChap, 'mutual CHAP');
  if (mutualChap && !chap) throw new UsageError('mutual CHAP needs --chap too (the initiator authenticates first)');
  if (mutualChap && chap && mutualChap.secret === chap.secret) throw new UsageError('the mutual CHAP secret must differ from the CHAP secret (RFC 7143 section 12.1.3)');
  return { iqn: canonicalName(t.iqn), luns, initiators, ...(chap ? { chap } : {}), ...(mutualChap ? { mutualChap } : {}) };
}

function optChap(v: unknown, what: string): ChapCredentials | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as { user?: unknown; secret?: unknown };
  if (typeof o !== 'object' || typeof o.user !== 'string' || typeof o.secret !== 'string') throw new UsageError(`${what}: give USER:SECRET`);
  const c = { user: o.user, secret: o.secret };
  const e = chapError(c, what);
  if (e) throw new UsageError(e);
  return c;
}

/** Who watches the targets of each KV (every IscsiTargetStore over one KV tells the same listeners). */
const watchers = new WeakMap<KvStore, Set<(iqn: string) => void>>();

/** The catalogue over the metadata KV; the iSCSI server's TargetCatalog. */
export class IscsiTargetStore implements TargetCatalog {
  constructor(private readonly kv: KvStore) {}

  /** Calls `listener` after a target of this KV is added or removed through any IscsiTargetStore (TargetCatalog.watch). */
  watch(listener: (iqn: string) => void): () => void {
    let set = watchers.get(this.kv);
    if (!set) watchers.set(this.kv, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  private tell(iqn: string): void {
    for (const w of watchers.get(this.kv) ?? []) {
      try {
        w(iqn);
      } catch { /* a listener's fault is its own */ }
    }
  }

  async get(iqn: string): Promise<TargetConfig | undefined> {
    if (typeof iqn !== 'string' || iscsiNameError(iqn)) return undefined;
    const v = await this.kv.get(keys.iscsiTarget(canonicalName(iqn)));
    return v ? decode(v) : undefined;
  }

  async list(): Promise<TargetConfig[]> {
    return this.records();
  }

  async records(): Promise<TargetRecord[]> {
    const out: TargetRecord[] = [];
    const p = keys.iscsiTargetPrefix();
    for await (const [, v] of this.kv.scan(p, prefixEnd(p))) out.push(decode(v));
    return out;
  }

  /**
   * Adds a target. Throws UsageError (bad fields, see checkTarget), CliError 'ENOENT' (a LUN's
   * volume or snapshot that `volumeExists` does not know) or 'EEXIST'.
   */
  async add(t: Parameters<typeof checkTarget>[0], volumeExists?: (ref: string) => Promise<boolean>): Promise<TargetInfo> {
    const cfg = checkTarget(t);
    if (volumeExists) {
      for (const l of cfg.luns) {
        if (!(await volumeExists(l.volume))) throw new CliError(`LUN ${l.lun}: no volume ${l.volume} (dw volume list; dw volume create ${l.volume.split('@')[0]} --size SIZE)`, 'ENOENT');
      }
    }
    const added = await this.kv.txn(async (tx) => {
      const k = keys.iscsiTarget(cfg.iqn);
      if (await tx.get(k)) throw new CliError(`target ${cfg.iqn} already exists (dw iscsi target remove it first)`, 'EEXIST');
      const rec: TargetRecord = { ...cfg, created: new Date().toISOString() };
      tx.set(k, Buffer.from(JSON.stringify(rec)));
      return info(rec);
    }, { sync: true });
    this.tell(cfg.iqn);
    return added;
  }

  /** Removes a target (sessions logged in keep running until they log out). Throws CliError 'ENOENT'. */
  async remove(iqn: string): Promise<void> {
    const bad = iscsiNameError(iqn);
    if (bad) throw new UsageError(bad);
    await this.kv.txn(async (tx) => {
      const k = keys.iscsiTarget(canonicalName(iqn));
      if (!(await tx.get(k))) throw new CliError(`no target ${iqn} (dw iscsi target list)`, 'ENOENT');
      tx.delete(k);
    }, { sync: true });
    this.tell(canonicalName(iqn));
  }
}

/**
 * Runs an `iscsi.*` admin method. Throws UsageError (bad params) or CliError. With
 * `volumeExists`, `iscsi.target.add` refuses LUNs naming a volume (or VOLUME@SNAP) that is not there.
 */
export async function runIscsiAdmin(kv: KvStore, method: string, params: Record<string, unknown>,
  volumeExists?: (ref: string) => Promise<boolean>): Promise<unknown> {
  const store = new IscsiTargetStore(kv);
  switch (method) {
    case 'iscsi.target.add':
      return store.add({ iqn: params.iqn, luns: params.luns, initiators: params.initiators, chap: params.chap, mutualChap: params.mutualChap }, volumeExists);
    case 'iscsi.target.remove': {
      if (typeof params.iqn !== 'string') throw new UsageError('missing the target IQN');
      await store.remove(params.iqn);
      return { iqn: canonicalName(params.iqn) };
    }
    case 'iscsi.target.list':
      return (await store.records()).map(info);
    default:
      throw new UsageError(`unknown admin method "${method}"`);
  }
}

/** `--lun 0=VOLUME` → { lun, volume }; UsageError on another form. */
export function parseLunFlag(v: string): { lun: number; volume: string } {
  const m = /^(\d{1,5})=(.+)$/.exec(v);
  if (!m) throw new UsageError(`--lun ${v}: give LUN=VOLUME, e.g. --lun 0=disk1`);
  return { lun: Number(m[1]), volume: m[2]! };
}

/** `--chap USER:SECRET` → credentials (the secret may itself hold ':'). */
export function parseChapFlag(v: string, flag: string): ChapCredentials {
  const i = v.indexOf(':');
  if (i <= 0) throw new UsageError(`${flag} ${v.includes(':') ? '…' : v}: give USER:SECRET`);
  return { user: v.slice(0, i), secret: v.slice(i + 1) };
}

/** Lines of `dw iscsi target list` (no secrets). */
export function formatTargets(ts: TargetInfo[]): string[] {
  if (ts.length === 0) return ['no iSCSI targets (add one: dw iscsi target add iqn.2026-11.com.example:disk1 --lun 0=VOLUME)'];
  const out: string[] = [];
  for (const t of ts) {
    out.push(t.iqn);
    for (const l of t.luns) out.push(`  LUN ${l.lun}: ${l.volume}`);
    out.push(`  initiators: ${t.initiators.length ? t.initiators.join(', ') : 'any'}`);
    out.push(`  auth: ${t.chap ? `CHAP user ${t.chap.user}${t.mutualChap ? `, mutual CHAP as ${t.mutualChap.user}` : ''}` : 'none'}`);
  }
  return out;
}
