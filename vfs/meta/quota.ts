/**
 * Quotas (issue 3): per user, per group and per directory tree, on bytes and on inodes, hard and
 * soft (a soft limit may be passed for a grace period, then it acts as a hard one).
 *
 * Usage lives in counters that change in the same transaction as the rows they count (an
 * extent, an inode), so it is exact after a crash (invariant 3). Every uid and gid is counted,
 * with or without a rule, so a rule set later starts from the true usage. A directory quota is
 * a "project" as in XFS: every inode records the innermost quota directory above it (Inode
 * .project, inherited at creation); a quota directory's rule records the project it sits in
 * (`outer`), so nested directory quotas all count. A rename that would move an inode to another
 * project fails with EXDEV (clients then copy and delete, as across file systems).
 *
 * Bytes are logical file bytes in extents (Inode.allocated), as statfs and `du` show them.
 * Exceeding a limit fails the change with EDQUOT; nothing of it is applied.
 */
import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn } from './kv.js';
import { decodeCounter, encodeCounter } from './kv.js';
import { keys, PREFIX, prefixEnd } from './keys.js';
import type { Inode } from './inode.js';
import { decodeInode } from './inode.js';

export type QuotaKind = 'user' | 'group' | 'dir';

/** Limits in bytes and inodes; 0 means none. graceMs: how long a soft limit may be passed. */
export interface QuotaLimits {
  bytesHard: number;
  bytesSoft: number;
  inodesHard: number;
  inodesSoft: number;
  graceMs: number;
}

export interface QuotaRule extends QuotaLimits {
  kind: QuotaKind;
  /** uid, gid, or the directory's inode number. */
  id: number;
  /** dir: the project the directory itself counts in (0: none). */
  outer: number;
  /** What the admin named (a user name, a group, the directory's path when set): for listings. */
  label?: string;
}

export interface QuotaUsage {
  bytes: number;
  inodes: number;
  /** When usage passed the soft limit (ms since the epoch), 0 if under it. */
  bytesOverSince: number;
  inodesOverSince: number;
}

export const DEFAULT_GRACE_MS = 7 * 86_400_000;
const KIND_BYTE: Record<QuotaKind, number> = { user: 0x75, group: 0x67, dir: 0x64 };
const MAX_NESTING = 64;

function ruleKey(kind: QuotaKind, id: number): Buffer {
  return keys.quota(KIND_BYTE[kind], id);
}
function counterKey(kind: QuotaKind, id: number, what: 'bytes' | 'inodes' | 'bytesOver' | 'inodesOver'): Buffer {
  return keys.counter(`q/${kind}/${id}/${what}`);
}

export async function getRule(tx: Pick<KvTxn, 'get'>, kind: QuotaKind, id: number): Promise<QuotaRule | undefined> {
  const v = await tx.get(ruleKey(kind, id));
  return v ? (JSON.parse(v.toString('utf8')) as QuotaRule) : undefined;
}

export function putRule(tx: KvTxn, r: QuotaRule): void {
  tx.set(ruleKey(r.kind, r.id), Buffer.from(JSON.stringify(r)));
}

export async function getUsage(tx: Pick<KvTxn, 'get'>, kind: QuotaKind, id: number): Promise<QuotaUsage> {
  const n = async (w: Parameters<typeof counterKey>[2]) => Number(decodeCounter(await tx.get(counterKey(kind, id, w))));
  return { bytes: await n('bytes'), inodes: await n('inodes'), bytesOverSince: await n('bytesOver'), inodesOverSince: await n('inodesOver') };
}

/** Sets a quota's usage counters outright (a new directory quota, after counting its subtree). */
export async function setUsage(tx: KvTxn, kind: QuotaKind, id: number, bytes: number, inodes: number): Promise<void> {
  if (bytes) tx.set(counterKey(kind, id, 'bytes'), encodeCounter(BigInt(bytes)));
  else tx.delete(counterKey(kind, id, 'bytes'));
  if (inodes) tx.set(counterKey(kind, id, 'inodes'), encodeCounter(BigInt(inodes)));
  else tx.delete(counterKey(kind, id, 'inodes'));
}

/** The directory projects an inode counts against, innermost first. */
export async function projectChain(tx: Pick<KvTxn, 'get'>, project: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = project; p && out.length < MAX_NESTING; ) {
    out.push(p);
    p = (await getRule(tx, 'dir', p))?.outer ?? 0;
  }
  return out;
}

/** What an inode counts against: its owner, its group, its directory projects. */
async function targets(tx: KvTxn, who: { uid: number; gid: number; project: number }): Promise<[QuotaKind, number][]> {
  const t: [QuotaKind, number][] = [['user', who.uid], ['group', who.gid]];
  for (const p of await projectChain(tx, who.project)) t.push(['dir', p]);
  return t;
}

function names(kind: QuotaKind, id: number): string {
  return kind === 'dir' ? `the directory quota of inode ${id}` : `the ${kind} quota of ${kind === 'user' ? 'uid' : 'gid'} ${id}`;
}

async function checkOne(tx: KvTxn, rule: QuotaRule, kind: QuotaKind, id: number, what: 'bytes' | 'inodes', now: number, delta: number, used: number): Promise<void> {
  const hard = what === 'bytes' ? rule.bytesHard : rule.inodesHard;
  const soft = what === 'bytes' ? rule.bytesSoft : rule.inodesSoft;
  const overKey = counterKey(kind, id, what === 'bytes' ? 'bytesOver' : 'inodesOver');
  if (delta > 0 && hard && used > hard) {
    throw new VfsError(Errno.EDQUOT, `quota exceeded: ${names(kind, id)} allows ${hard} ${what}, this would make ${used}`);
  }
  if (!soft) return;
  const since = Number(decodeCounter(await tx.get(overKey)));
  if (used > soft) {
    if (!since) tx.set(overKey, encodeCounter(BigInt(now)));
    else if (delta > 0 && now - since > rule.graceMs) {
      throw new VfsError(Errno.EDQUOT, `quota exceeded: ${names(kind, id)} soft limit of ${soft} ${what} passed its grace period`);
    }
  } else if (since) tx.delete(overKey);
}

/**
 * Adds dBytes and dInodes to the usage of everything `who` counts against; EDQUOT (the caller's
 * transaction then applies nothing) if an increase passes a hard limit, or a soft one past grace.
 */
export async function charge(tx: KvTxn, who: { uid: number; gid: number; project: number }, dBytes: number, dInodes: number, now = Date.now()): Promise<void> {
  if (!dBytes && !dInodes) return;
  for (const [kind, id] of await targets(tx, who)) {
    const rule = await getRule(tx, kind, id);
    if (!rule) {
      // No limit to check: the usage is only counted, once per transaction (KvTxn.addCounter).
      if (dBytes) tx.addCounter(counterKey(kind, id, 'bytes'), BigInt(dBytes));
      if (dInodes) tx.addCounter(counterKey(kind, id, 'inodes'), BigInt(dInodes));
      continue;
    }
    if (dBytes) {
      const used = Number(await tx.incrBy(counterKey(kind, id, 'bytes'), BigInt(dBytes)));
      await checkOne(tx, rule, kind, id, 'bytes', now, dBytes, used);
    }
    if (dInodes) {
      const used = Number(await tx.incrBy(counterKey(kind, id, 'inodes'), BigInt(dInodes)));
      await checkOne(tx, rule, kind, id, 'inodes', now, dInodes, used);
    }
  }
}

/**
 * Adds dBytes to the byte usage of everything `who` counts against, checking no limit: for a
 * rollback, which puts back what was there and must not fail half way (vfs/meta/snapshots.ts).
 */
export async function adjustUsage(tx: KvTxn, who: { uid: number; gid: number; project: number }, dBytes: number): Promise<void> {
  if (!dBytes) return;
  for (const [kind, id] of await targets(tx, who)) await tx.incrBy(counterKey(kind, id, 'bytes'), BigInt(dBytes));
}

/** The project a new child of `dir` gets (the directory's own, which is itself for a quota directory). */
export function childProject(dir: Inode): number {
  return dir.project;
}

/** The project an inode sits in, seen from its parent: for a quota directory, the one outside it. */
export async function containerOf(tx: Pick<KvTxn, 'get'>, n: Inode): Promise<number> {
  if (n.project === n.ino) return (await getRule(tx, 'dir', n.ino))?.outer ?? 0;
  return n.project;
}

/** Every rule, by kind then id. */
export async function listRules(kv: Pick<KvStore, 'scan'>): Promise<QuotaRule[]> {
  const p = Buffer.of(PREFIX.quota);
  const out: QuotaRule[] = [];
  for await (const [, v] of kv.scan(p, prefixEnd(p))) out.push(JSON.parse(v.toString('utf8')) as QuotaRule);
  return out;
}

/**
 * Recounts all usage from the inodes (after a rollback put the tree back): every q/ counter is
 * rewritten in one transaction.
 */
export async function recountUsage(kv: KvStore): Promise<{ bytes: number; inodes: number }> {
  const bytes = new Map<string, number>(), inodes = new Map<string, number>();
  const total = { bytes: 0, inodes: 0 };
  const rulesByDir = new Map<number, number>();
  for (const r of await listRules(kv)) if (r.kind === 'dir') rulesByDir.set(r.id, r.outer);
  const ip = Buffer.of(PREFIX.inode);
  for await (const [, v] of kv.scan(ip, prefixEnd(ip))) {
    const n = decodeInode(v);
    total.bytes += n.allocated;
    total.inodes++;
    const t: string[] = [`user/${n.uid}`, `group/${n.gid}`];
    for (let p = n.project, d = 0; p && d < MAX_NESTING; p = rulesByDir.get(p) ?? 0, d++) t.push(`dir/${p}`);
    for (const k of t) {
      bytes.set(k, (bytes.get(k) ?? 0) + n.allocated);
      inodes.set(k, (inodes.get(k) ?? 0) + 1);
    }
  }
  await kv.txn(async (tx) => {
    const cp = keys.counter('q/');
    for await (const [k] of tx.scan(cp, prefixEnd(cp))) tx.delete(k);
    for (const [k, b] of bytes) {
      const [kind, id] = k.split('/') as [QuotaKind, string];
      if (b) tx.set(counterKey(kind, Number(id), 'bytes'), encodeCounter(BigInt(b)));
      tx.set(counterKey(kind, Number(id), 'inodes'), encodeCounter(BigInt(inodes.get(k)!)));
    }
  });
  return total;
}
