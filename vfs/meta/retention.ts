/**
 * Retention (WORM) and legal holds (issue 3). A directory gets a retention period (and an
 * optional grace period): a regular file in its tree becomes immutable when it is closed after
 * writing, plus the grace period, and stays so for the retention period; a legal hold on the
 * file or on its retention directory keeps it immutable, expired or not, until the hold goes.
 * Immutable means: no protocol may open it for writing, truncate it, rename it, delete it or
 * replace it by a rename. Reading, listing and hard links stay allowed. A retention period can
 * only be extended. Refusals are EPERM.
 *
 * A legal hold applies to a file under a retention directory, or to such a directory (then to all
 * its files). Like a directory quota, a retention directory tags its tree (Inode.worm, inherited at
 * creation); each sealed file has a row 'R' ino → { sealAtMs, untilMs }.
 */
import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn } from './kv.js';
import { keys, prefixEnd } from './keys.js';
import type { Inode } from './inode.js';
import { isReg } from './inode.js';

export interface RetentionRule {
  /** The directory's inode number. */
  dir: number;
  periodMs: number;
  /** Time after the close during which the file may still change. */
  graceMs: number;
  /** The path given when it was set (for listings). */
  label?: string;
}

export interface SealState {
  /** From this time (ms since the epoch) the file is immutable… */
  sealAtMs: number;
  /** …until this time. */
  untilMs: number;
}

export interface Hold {
  name: string;
  created: string;
}

function json<T>(v: Buffer | undefined): T | undefined {
  return v ? (JSON.parse(v.toString('utf8')) as T) : undefined;
}

export async function getRetention(tx: Pick<KvTxn, 'get'>, dir: number): Promise<RetentionRule | undefined> {
  return json<RetentionRule>(await tx.get(keys.retention(dir)));
}

export async function getSeal(tx: Pick<KvTxn, 'get'>, ino: number): Promise<SealState | undefined> {
  return json<SealState>(await tx.get(keys.seal(ino)));
}

/** Holds on an inode (a file, or a retention directory for all its files). */
export async function listHolds(tx: Pick<KvTxn, 'scan'>, ino: number): Promise<Hold[]> {
  const out: Hold[] = [];
  const p = keys.holdPrefix(ino);
  for await (const [, v] of tx.scan(p, prefixEnd(p))) out.push(JSON.parse(v.toString('utf8')) as Hold);
  return out;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Throws EPERM if `n` may not be written, truncated, renamed, deleted or replaced now: a sealed
 * file before its retention ends, or a file under a legal hold. `op` names the attempt.
 */
export async function checkMutable(tx: Pick<KvTxn, 'get' | 'scan'>, n: Inode, op: string, now = Date.now()): Promise<void> {
  if (!isReg(n) || !n.worm) return; // holds, too, apply only under a retention directory
  const holds = [...(await listHolds(tx, n.ino)), ...(await listHolds(tx, n.worm))];
  if (holds.length) throw new VfsError(Errno.EPERM, `retention: cannot ${op}: the file is under legal hold (${holds.map((h) => h.name).join(', ')})`);
  const seal = await getSeal(tx, n.ino);
  if (seal && now >= seal.sealAtMs && now < seal.untilMs) {
    throw new VfsError(Errno.EPERM, `retention: cannot ${op}: the file is retained until ${when(seal.untilMs)}`);
  }
}

/** After the last writer closes `n`: seals it for its directory's retention period (from now + grace). */
export async function sealOnClose(tx: KvTxn, n: Inode, now = Date.now()): Promise<void> {
  if (!n.worm || !isReg(n)) return;
  const rule = await getRetention(tx, n.worm);
  if (!rule) return;
  const sealAtMs = now + rule.graceMs;
  tx.set(keys.seal(n.ino), Buffer.from(JSON.stringify({ sealAtMs, untilMs: sealAtMs + rule.periodMs } satisfies SealState)));
}

/**
 * Sets a directory's retention. A new rule tags the tree (files already there are sealed from
 * now + grace); a changed one may only lengthen the period (else EPERM), and sealed files keep
 * their times or get the longer ones. Throws ENOTDIR for a non-directory.
 */
export async function setRetention(tx: KvTxn, dir: Inode, periodMs: number, graceMs: number, opts: { label?: string; walk: (visit: (n: Inode) => Promise<void>) => Promise<void>; put: (n: Inode) => void }, now = Date.now()): Promise<RetentionRule> {
  if ((dir.mode & 0o170000) !== 0o040000) throw new VfsError(Errno.ENOTDIR, 'retention is set on a directory');
  const old = await getRetention(tx, dir.ino);
  if (old && periodMs < old.periodMs) {
    throw new VfsError(Errno.EPERM, `retention: the period of this directory can only be extended (it is ${old.periodMs} ms)`);
  }
  const rule: RetentionRule = { dir: dir.ino, periodMs, graceMs, ...(opts.label ? { label: opts.label } : {}) };
  tx.set(keys.retention(dir.ino), Buffer.from(JSON.stringify(rule)));
  const outer = dir.worm; // what the tree was tagged with: retag that (nested retention directories keep theirs)
  await opts.walk(async (n) => {
    if (!old && n.worm === outer) {
      n.worm = dir.ino;
      opts.put(n);
    }
    if (!isReg(n) || n.worm !== dir.ino) return;
    const seal = await getSeal(tx, n.ino);
    const sealAtMs = seal?.sealAtMs ?? now + graceMs;
    const untilMs = Math.max(seal?.untilMs ?? 0, sealAtMs + periodMs);
    tx.set(keys.seal(n.ino), Buffer.from(JSON.stringify({ sealAtMs, untilMs } satisfies SealState)));
  });
  return rule;
}

export async function addHold(tx: KvTxn, ino: number, name: string): Promise<void> {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new VfsError(Errno.EINVAL, 'hold names are 1 to 64 letters, digits, _ . : -');
  tx.set(keys.hold(ino, name), Buffer.from(JSON.stringify({ name, created: new Date().toISOString() } satisfies Hold)));
}

export async function removeHold(tx: KvTxn, ino: number, name: string): Promise<void> {
  if (!(await tx.get(keys.hold(ino, name)))) throw new VfsError(Errno.ENOENT, `no hold ${name} there`);
  tx.delete(keys.hold(ino, name));
}

/** Every retention rule (for listings). */
export async function listRetention(kv: Pick<KvStore, 'scan'>): Promise<RetentionRule[]> {
  const p = keys.retentionPrefix();
  const out: RetentionRule[] = [];
  for await (const [, v] of kv.scan(p, prefixEnd(p))) out.push(JSON.parse(v.toString('utf8')) as RetentionRule);
  return out;
}
