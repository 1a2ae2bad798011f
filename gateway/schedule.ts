/**
 * Snapshot schedules with retention (issue 3): `dw snapshot schedule add NAME --every 1h
 * --keep 24` takes a snapshot NAME-<UTC time> every hour and keeps the newest 24 of them.
 * Schedules live in the metadata (superblock row 'snapshotSchedules', keys.ts) and run inside
 * `dw serve`: a timer checks them every SCHEDULE_TICK_MS; a missed slot (server stopped) is
 * taken once at the next check, not once per missed slot.
 */
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import type { SnapshotStore } from '../vfs/meta/snapshots.js';
import { UsageError } from './errors.js';

export interface Schedule {
  /** Prefix of the snapshots it takes: NAME-YYYY-MM-DDTHH-MM-SSZ. */
  name: string;
  everyMs: number;
  /** How many of its snapshots to keep (the oldest beyond go). */
  keep: number;
}

const KEY = keys.superblock('snapshotSchedules');
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
export const SCHEDULE_TICK_MS = 30_000;
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** '15m', '1h', '1d', '1w' (also 'hourly', 'daily', 'weekly') → ms. UsageError otherwise. */
export function parseEvery(text: string): number {
  const named: Record<string, string> = { hourly: '1h', daily: '1d', weekly: '1w' };
  const m = /^(\d{1,4})([mhdw])$/.exec(named[text] ?? text);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!(ms >= 5 * 60_000)) throw new UsageError(`--every wants a period of at least 5 minutes like 15m, 1h, 1d, 1w (or hourly, daily, weekly); got "${text}"`);
  return ms;
}

export async function loadSchedules(kv: KvStore): Promise<Schedule[]> {
  const v = await kv.get(KEY);
  return v ? (JSON.parse(v.toString('utf8')) as Schedule[]) : [];
}

async function saveSchedules(kv: KvStore, list: Schedule[]): Promise<void> {
  await kv.txn(async (tx) => tx.set(KEY, Buffer.from(JSON.stringify(list))), { sync: true });
}

/** Adds or replaces schedule `name`. UsageError for a bad name or keep. */
export async function setSchedule(kv: KvStore, s: Schedule): Promise<Schedule> {
  if (!NAME_RE.test(s.name)) throw new UsageError(`schedule names are 1 to 64 letters, digits, _ . - (got "${s.name}")`);
  if (!Number.isInteger(s.keep) || s.keep < 1 || s.keep > 10_000) throw new UsageError('--keep wants a whole number from 1 to 10000');
  const list = (await loadSchedules(kv)).filter((x) => x.name !== s.name);
  list.push(s);
  await saveSchedules(kv, list);
  return s;
}

/** Removes schedule `name` (its snapshots stay). ENOENT-coded CliError via VfsError if absent. */
export async function removeSchedule(kv: KvStore, name: string): Promise<void> {
  const list = await loadSchedules(kv);
  if (!list.some((x) => x.name === name)) throw new VfsError(Errno.ENOENT, `no schedule ${name}`);
  await saveSchedules(kv, list.filter((x) => x.name !== name));
}

/** The snapshot name a schedule gives at `now`. */
export function scheduledName(s: Schedule, now: Date): string {
  return `${s.name}-${now.toISOString().slice(0, 19).replace(/:/g, '-')}Z`;
}

/**
 * Takes the snapshots that are due at `now` and drops the oldest beyond each schedule's keep.
 * Returns what it did. Only snapshots named NAME-<time> by a schedule count towards it.
 */
export async function runSchedules(snaps: SnapshotStore, list: Schedule[], now: Date): Promise<{ created: string[]; deleted: string[] }> {
  const created: string[] = [], deleted: string[] = [];
  for (const s of list) {
    const re = new RegExp(`^${s.name.replace(/[.]/g, '\\.')}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ$`);
    const mine = () => snaps.list().filter((x) => re.test(x.name));
    const newest = mine().at(-1);
    const last = newest ? Number(BigInt(newest.createdNs) / 1_000_000n) : -Infinity;
    if (now.getTime() - last >= s.everyMs) {
      const name = scheduledName(s, now);
      if (!snaps.find(name)) {
        await snaps.create(name);
        created.push(name);
      }
    }
    const all = mine();
    for (const old of all.slice(0, Math.max(0, all.length - s.keep))) {
      await snaps.delete(old.name);
      deleted.push(old.name);
    }
  }
  return { created, deleted };
}
