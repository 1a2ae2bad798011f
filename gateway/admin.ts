/**
 * Admin operations, the same code whether they run inside `dw serve` (reached through the admin
 * socket) or in the CLI process on a stopped data folder. Each takes JSON params (checked here,
 * since they come off a socket) and returns a JSON result that cli.ts formats.
 *
 * Methods:
 *   ping                                   → { pid, serving }
 *   user.add { name, password?, sshKeys? } → UserInfo          (sshKeys: OpenSSH key text)
 *   user.list                              → UserInfo[]
 *   user.remove { name }                   → { name }
 *   user.passwd { name, password }         → { name }
 *   user.addkey { name, sshKeys }          → UserInfo
 *   pool.create { layout, devices[], compression?, dedup?, encryption? } → { layout, devices, compression, dedup, encryption }
 *                                          (compression: off | lz4 | zstd[:LEVEL]; default off; dedup: boolean, default false;
 *                                           encryption: a SecretWire (unlock.ts), absent = off)
 *   pool.set { compression?, dedup? }      → { compression?, dedup? }   (new blocks only; stored ones keep theirs)
 *   pool.status                            → PoolStats & { serving, engine }
 *   scrub { repair? = true }               → ScrubReport             (progress events)
 *   device.replace { old, new }            → { index, old, new, rebuiltShards } (progress)
 *   reclaim { threshold? }                 → { freedBytes, segmentsCompacted }  (progress)
 *   snapshot.create { name, path? }        → SnapshotInfo   (path: /.snapshots/NAME shows that folder)
 *   snapshot.list                          → SnapshotListing[]  (oldest first, with space held)
 *   snapshot.delete { name }               → { name }
 *   snapshot.rollback { name, destroyNewer? } → { name, restored, removed, destroyed[] }
 *   schedule.set { name, every, keep }     → Schedule   (every: 15m, 1h, 1d, 1w, hourly, daily, weekly)
 *   schedule.list                          → Schedule[]
 *   schedule.remove { name }               → { name }
 *   quota.set { kind, who, bytes?, inodes?, softBytes?, softInodes?, graceMs? } → QuotaReport
 *                                          (kind: user | group | dir; who: user name or uid, gid or user
 *                                           name, or a directory path; unset limits keep their value)
 *   quota.get { kind, who }                → QuotaReport
 *   quota.list                             → QuotaReport[]
 *   retention.set { path, periodMs, graceMs? } → RetentionReport   (only lengthens: EPERM otherwise)
 *   retention.get { path }                 → RetentionReport
 *   compression.set { path, setting }      → CompressionReport   (setting: off | lz4 | zstd[:LEVEL] | inherit;
 *                                          a directory; what is created below from now on gets it)
 *   compression.get { path }               → CompressionReport & TreeBytes  (walks the tree: one row
 *                                          read per block, see vfs/compression.ts treeBytes)
 *   dedup.set { path, setting }            → CompressionReport   (setting: on | off | inherit; as compression.set)
 *   dedup.get { path }                     → CompressionReport & TreeBytes
 *   hold.add { path, name }                → RetentionReport
 *   hold.remove { path, name }             → RetentionReport
 *   versions { path }                      → FileVersion[]  (the file in each snapshot, then live)
 *   restore { path, from, to? }            → { path, from, to }  (copy back by block reference)
 *   key.status                             → PoolKeyStatus  (no secret needed)
 *   key.rotate { old, new }                → PoolKeyStatus  (SecretWire each: rewraps the data key
 *                                          under `new` after checking `old`; no data rewritten)
 *   iscsi.target.add | iscsi.target.remove | iscsi.target.list   (gateway/admin-iscsi.ts: the iSCSI target catalogue)
 *   key.reencrypt { secret, wait? }        → ReencryptReport (secret: SecretWire of the pool, checked;
 *                                          adds a new data key and starts the walk moving every block
 *                                          to it, or resumes one recorded; in `dw serve` it runs in the
 *                                          background unless `wait` (then progress events until done);
 *                                          on a stopped folder it always runs to the end, with progress)
 *   volume.create { name, size, block?, thick? } / volume.resize { name, size } / volume.delete { name, recursive? }
 *   volume.list / volume.snapshot { name: VOL@SNAP } / volume.snapshot.delete { name } / volume.clone { source, name }
 *   volume.rollback { name: VOL@SNAP, destroyNewer? }
 *                                          block volumes (iSCSI): gateway/admin-volumes.ts
 */
import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { BlockStore, PoolStats, ProgressFn, ReencryptResult, ReencryptStatus } from '../raid/types.js';
import { createPool, DEFAULT_NEW_POOL_COMPRESSION, formatCompression, parseCompression, parseLayout, poolExists, poolKeyStatus, readPoolState, rotatePoolKey } from '../raid/index.js';
import { compressCode, compressionOfCode, formatDirCompression, parseDirCompression, treeBytes, type TreeBytes } from '../vfs/compression.js';
import { formatDirDedup, parseDirDedup } from '../vfs/dedup.js';
import type { Inode } from '../vfs/meta/inode.js';
import type { PoolState } from '../raid/poolstate.js';
import { Errno, VfsError } from '../vfs/errno.js';
import { ROOT_CTX, type Attr, type VfsInstance } from '../vfs/index.js';
import { decodeCounter, type KvStore } from '../vfs/meta/kv.js';
import { keys, SNAPDIR_INO } from '../vfs/meta/keys.js';
import { COUNTERS } from '../vfs/meta/metatxn.js';
import type { SnapshotInfo, SnapshotStore } from '../vfs/meta/snapshots.js';
import { DEFAULT_GRACE_MS, type QuotaKind, type QuotaLimits, type QuotaUsage } from '../vfs/meta/quota.js';
import { isVolumeMethod, runVolumeAdmin } from './admin-volumes.js';
import type { DataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import { UserStore } from './users.js';
import { runIscsiAdmin } from './admin-iscsi.js';
import { loadSchedules, parseEvery, removeSchedule, setSchedule } from './schedule.js';
import { fromWire } from './unlock.js';

export type TaskKind = 'scrub' | 'rebuild' | 'reclaim' | 'reencrypt';

/** A reencrypt walk running in this process: its end, and who wants its progress. */
export interface ReencryptRun {
  done: Promise<ReencryptResult>;
  listeners: Set<ProgressFn>;
}

/** What `key.reencrypt` answers. */
export interface ReencryptReport {
  poolId: string;
  /** A new data key was added now (false: a recorded reencrypt was resumed or joined). */
  started: boolean;
  /** The walk ran to its end (wait, or a stopped folder): every block is under `to`. */
  finished: boolean;
  /** The data key blocks move to. */
  to: number;
  /** Data keys the record keeps (when finished). */
  keys?: number[];
  /** Blocks rewritten by this run (when waited for). */
  rewritten?: number;
  /** The recorded walk when the command returned without waiting. */
  status?: ReencryptStatus;
}

export interface AdminEnv {
  dir: DataDir;
  kv: KvStore;
  users: UserStore;
  /** The block store: the server's open one, or opened on first use in direct mode. */
  pool(): Promise<BlockStore>;
  /** The live tree's snapshots: the server's, or opened on first use in direct mode. */
  snapshots(): Promise<SnapshotStore>;
  /** The file tree (the server's, or opened on first use in direct mode). */
  vfs(): Promise<VfsInstance>;
  /** Inside `dw serve`: runs fn with the VFS's changes held off (VfsImpl.exclusive). */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** True inside `dw serve`. */
  serving: boolean;
  /** Long work under way in this process, for pool.status and to refuse a second one. */
  task?: { kind: TaskKind; done: number; total: number };
  /** The reencrypt walk running in this process (reencryptInBackground). */
  reencrypt?: ReencryptRun;
  /** Where background work reports (dw serve). */
  log?: { info: (o: object, msg: string) => void; error: (o: object, msg: string) => void };
}

/**
 * Runs the pool's recorded reencrypt walk as this process's long task (one at a time with scrub,
 * rebuild, reclaim), in the background: `dw serve` at start when one is recorded, and
 * `key.reencrypt`. Returns the run already going if there is one. The end (or a failure) is
 * logged; a failure leaves the walk recorded, to resume at the next start or `dw key reencrypt`.
 */
export function reencryptInBackground(env: AdminEnv, pool: BlockStore): ReencryptRun {
  if (env.reencrypt) return env.reencrypt;
  if (!pool.reencrypt) throw new CliError('this block store cannot reencrypt', 'ENOTSUP');
  const listeners = new Set<ProgressFn>();
  const walk = pool.reencrypt.bind(pool);
  const done = longTask(env, 'reencrypt', (d, t) => { for (const l of listeners) l(d, t); }, (p) => walk(p));
  const run: ReencryptRun = { done, listeners };
  env.reencrypt = run;
  done.then(
    (r) => env.log?.info({ ...r }, r.finished ? 'reencrypt finished: every block is under the new data key' : 'reencrypt paused; it resumes at the next start'),
    (err: unknown) => env.log?.error({ err: String((err as Error)?.message ?? err) }, 'reencrypt stopped; it resumes at the next start or `dw key reencrypt`'),
  ).finally(() => { if (env.reencrypt === run) env.reencrypt = undefined; });
  return run;
}

/** key.reencrypt (see the method table). */
async function reencryptCmd(env: AdminEnv, params: Record<string, unknown>, onProgress: ProgressFn): Promise<ReencryptReport> {
  const secret = fromWire(params.secret, 'passphrase or key file of the pool');
  const wait = params.wait === true || !env.serving;
  const state = await readPoolState(env.kv).catch(asCli);
  if (!state) return asKeyError(new VfsError(Errno.ENOENT, 'no pool'));
  if (state.encryption === undefined) throw new CliError(`pool ${state.id} is not encrypted: there is no data key to replace (encryption is chosen at \`dw pool create --encryption\`)`, 'EINVAL');
  if (env.task && env.task.kind !== 'reencrypt') {
    throw new CliError(`a ${env.task.kind} is running (${pctOf(env.task)}%); start the reencrypt when it has finished`, 'EBUSY');
  }
  const pool = await env.pool();
  if (!pool.startReencrypt) throw new CliError('this block store cannot reencrypt', 'ENOTSUP');
  const { started, status } = await pool.startReencrypt(secret).catch(asKeyError);
  const running = env.reencrypt;
  if (running && !wait) {
    const t = env.task ?? { done: status.done, total: status.total };
    throw new CliError(`a reencrypt to data key ${status.to} is already running (${pctOf(t)}%): follow it with \`dw key reencrypt --wait\` or \`dw key status\``, 'EBUSY');
  }
  const run = running ?? reencryptInBackground(env, pool);
  if (!wait) return { poolId: state.id, started, finished: false, to: status.to, status };
  run.listeners.add(onProgress);
  try {
    const r = await run.done;
    return { poolId: state.id, started, finished: r.finished, to: r.to, keys: r.keys, rewritten: r.rewritten };
  } finally {
    run.listeners.delete(onProgress);
  }
}

const pctOf = (t: { done: number; total: number }) => (t.total ? Math.min(100, Math.floor((t.done / t.total) * 100)) : 0);

export interface PoolStatus extends PoolStats {
  serving: boolean;
  engine: string;
  /** Each snapshot and the file bytes only its history holds (freed when it is deleted). */
  snapshots: { name: string; created: string; heldBytes: number }[];
  /**
   * Bytes the live files' extents hold (the 'usedBytes' counter): against logicalUsed plus
   * inlineBytes (each block once) it shows what dedup and clones share.
   */
  referenced: number;
  /**
   * Bytes of small records kept in extent rows rather than as blocks (the 'inlineBytes'
   * counter; vfs/file.ts INLINE_MAX), live and in snapshots: file data beside logicalUsed.
   */
  inlineBytes: number;
}

/** A quota rule with its usage, as `dw quota` shows it. */
export interface QuotaReport {
  kind: QuotaKind;
  id: number;
  /** User name, group, or directory path. */
  who: string;
  limits: QuotaLimits;
  usage: QuotaUsage;
}

/** A directory's (or file's) compression or dedup setting, and with `get` its tree's logical vs stored bytes. */
export interface CompressionReport {
  path: string;
  /** Which setting: compression or dedup. */
  service: DirService;
  /** Its own setting: compression off, lz4, zstd:N; dedup on, off; or inherit (the pool's). */
  setting: string;
  /** The pool's setting (what inherit means now). */
  pool: string;
  /** The tree's bytes (compression.get only). */
  tree?: TreeBytes;
}

/** A path's retention: its directory's rule, its seal, its holds. */
export interface RetentionReport {
  path: string;
  /** The retention directory's period and grace (ms), if the path is under one. */
  periodMs?: number;
  graceMs?: number;
  /** A file: immutable from/until (ISO), if sealed. */
  sealedFrom?: string;
  retainedUntil?: string;
  holds: string[];
}

/** One version of a file: in a snapshot (oldest first) or live (snapshot null, last). */
export interface FileVersion {
  snapshot: string | null;
  /** Where to read it: /.snapshots/NAME/PATH, or PATH. */
  path: string;
  type: string;
  size: number;
  mtime: string;
  /** The same content and times as the version listed before it. */
  sameAsPrevious: boolean;
}

export interface SnapshotListing extends SnapshotInfo {
  /** ISO time it was taken. */
  created: string;
  /** File bytes in extents its history keeps (what deleting it can free, at most). */
  heldBytes: number;
}

/** An export path for versions/restore: absolute, no `..` escaping (normalized by the VFS). */
function absPath(p: string): string {
  if (!p.startsWith('/')) throw new UsageError(`give the path inside the export, starting with / (got "${p}")`);
  if (p.split('/').includes('..')) throw new UsageError(`the path may not contain .. (got "${p}")`);
  return p.replace(/\/+$/, '') || '/';
}

function quotaKind(params: Record<string, unknown>): QuotaKind {
  const k = params.kind;
  if (k !== 'user' && k !== 'group' && k !== 'dir') throw new UsageError('name what the quota is for: --user NAME, --group GID or --dir PATH');
  return k;
}

/** A user (name or uid), group (gid or a user name: their group) or directory (path) → its id. */
async function quotaTarget(env: AdminEnv, v: VfsInstance, kind: QuotaKind, who: string): Promise<{ id: number; who: string }> {
  if (kind === 'dir') {
    const path = absPath(who);
    const a = await v.paths.stat(ROOT_CTX, path).catch(asCli);
    if (a.type !== 'dir') throw new CliError(`${path} is not a directory`, 'ENOTDIR');
    if (a.ino >= 2 ** 36 - 1) throw new CliError('snapshots cannot have quotas', 'EROFS');
    return { id: a.ino, who: path };
  }
  if (/^\d+$/.test(who)) return { id: Number(who), who };
  const u = await env.users.get(who);
  if (!u) throw new CliError(`no user ${who} (dw user list), and not a number`, 'ENOENT');
  return { id: kind === 'user' ? u.uid : u.gid, who };
}

async function quotaReport(v: VfsInstance, kind: QuotaKind, id: number, who: string): Promise<QuotaReport> {
  const { rule, usage } = await v.impl.meta.getQuota(kind, id);
  const limits = { bytesHard: rule?.bytesHard ?? 0, bytesSoft: rule?.bytesSoft ?? 0, inodesHard: rule?.inodesHard ?? 0, inodesSoft: rule?.inodesSoft ?? 0, graceMs: rule?.graceMs ?? 0 };
  return { kind, id, who, limits, usage };
}

/** The inode of a live path (not in a snapshot). */
async function liveIno(v: VfsInstance, path: string): Promise<number> {
  const a = await v.paths.lstat(ROOT_CTX, path).catch(asCli);
  if (a.ino >= SNAPDIR_INO) throw new CliError('snapshots are read-only', 'EROFS');
  return a.ino;
}

async function retentionReport(v: VfsInstance, path: string): Promise<RetentionReport> {
  const r = await v.impl.meta.retentionOf(await liveIno(v, path)).catch(asCli);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    path,
    ...(r.rule ? { periodMs: r.rule.periodMs, graceMs: r.rule.graceMs } : {}),
    ...(r.seal ? { sealedFrom: iso(r.seal.sealAtMs), retainedUntil: iso(r.seal.untilMs) } : {}),
    holds: r.holds.map((h) => h.name),
  };
}

/** The per-directory settings (issue 5): how each is parsed, shown, stored and what the pool says. */
const DIR_SERVICES = {
  compression: {
    accepted: 'off, lz4, zstd[:LEVEL] or inherit',
    parse: (t: string) => compressCode(parseDirCompression(t)),
    format: (code: number) => formatDirCompression(compressionOfCode(code)),
    code: (n: Inode) => n.compress,
    set: (v: VfsInstance, ino: number, code: number) => v.impl.meta.setCompression(ino, code),
    pool: (s: PoolState | undefined) => s?.compression ?? 'off',
  },
  dedup: {
    accepted: 'on, off or inherit',
    parse: parseDirDedup,
    format: formatDirDedup,
    code: (n: Inode) => n.dedup,
    set: (v: VfsInstance, ino: number, code: number) => v.impl.meta.setDedup(ino, code),
    pool: (s: PoolState | undefined) => (s?.dedup ? 'on' : 'off'),
  },
} as const;
export type DirService = keyof typeof DIR_SERVICES;

async function dirSettingReport(env: AdminEnv, v: VfsInstance, service: DirService, path: string, withTree: boolean): Promise<CompressionReport> {
  const ino = await liveIno(v, path);
  const n = await v.impl.meta.getInode(ino);
  if (!n) throw new CliError(`${path} is gone`, 'ENOENT');
  const d = DIR_SERVICES[service];
  const r: CompressionReport = { path, service, setting: d.format(d.code(n)), pool: d.pool(await readPoolState(env.kv)) };
  if (withTree) r.tree = await treeBytes(v.impl.meta, v.impl.blocks, ino).catch(asCli);
  return r;
}

/** compression.set / dedup.set: a directory's setting for what is created in it from now on. */
async function setDirSetting(env: AdminEnv, service: DirService, params: Record<string, unknown>): Promise<CompressionReport> {
  const path = absPath(str(params, 'path', 'PATH'));
  const d = DIR_SERVICES[service];
  let code;
  try {
    code = d.parse(str(params, 'setting', `the setting: ${d.accepted}`));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = await env.vfs();
  await d.set(v, await liveIno(v, path), code).catch((err: unknown) => {
    if (err instanceof VfsError && err.code === 'ENOTDIR') throw new CliError(`${path} is not a directory: ${service} is set on a directory, for what is created in it`, 'ENOTDIR');
    return asCli(err);
  });
  return dirSettingReport(env, v, service, path, false);
}

/** Gives the restored tree the owners it had in the snapshot (the copy was made as root). */
async function copyOwners(v: VfsInstance, src: string, dst: string): Promise<void> {
  const a = await v.paths.lstat(ROOT_CTX, src);
  await v.paths.setattr(ROOT_CTX, dst, { uid: a.uid, gid: a.gid, ...(a.type === 'symlink' ? {} : { mode: a.mode & 0o7777 }) }, { followLast: false });
  if (a.type !== 'dir') return;
  for (const e of await v.paths.readdir(ROOT_CTX, src)) await copyOwners(v, `${src}/${e.name}`, `${dst}/${e.name}`);
}

async function fileVersions(v: VfsInstance, path: string): Promise<FileVersion[]> {
  const out: FileVersion[] = [];
  let prev: Attr | undefined;
  const add = (snapshot: string | null, at: string, a: Attr | undefined) => {
    if (!a) { prev = undefined; return; }
    const same = !!prev && prev.type === a.type && prev.size === a.size && prev.mtimeNs === a.mtimeNs && prev.ctimeNs === a.ctimeNs;
    out.push({ snapshot, path: at, type: a.type, size: a.size, mtime: new Date(Number(a.mtimeNs / 1_000_000n)).toISOString(), sameAsPrevious: same });
    prev = a;
  };
  for (const s of v.snapshots.list()) {
    const at = `/.snapshots/${s.name}${path}`;
    add(s.name, at, await v.paths.lstat(ROOT_CTX, at).catch(() => undefined));
  }
  add(null, path, await v.paths.lstat(ROOT_CTX, path).catch(() => undefined));
  if (!out.length) throw new CliError(`${path} is in no snapshot and not in the live tree`, 'ENOENT');
  return out;
}

async function listSnapshots(snaps: SnapshotStore): Promise<SnapshotListing[]> {
  const out: SnapshotListing[] = [];
  for (const s of snaps.list()) {
    out.push({ ...s, created: new Date(Number(BigInt(s.createdNs) / 1_000_000n)).toISOString(), heldBytes: await snaps.heldBytes(s.name) });
  }
  return out;
}

function str(params: Record<string, unknown>, key: string, what: string): string {
  const v = params[key];
  if (typeof v !== 'string' || !v) throw new UsageError(`missing ${what}`);
  if (v.length > 1 << 16) throw new UsageError(`${what} is too long`);
  return v;
}

function optStr(params: Record<string, unknown>, key: string, what: string): string | undefined {
  return params[key] === undefined || params[key] === null ? undefined : str(params, key, what);
}

/** Parses layout text with raid's parser; a bad one is a UsageError naming the accepted forms. */
export function checkLayout(text: string): string {
  try {
    return parseLayout(text).name;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const msg = /bad layout/.test(why) ? why : `bad layout "${text}": ${why}`;
    throw new UsageError(`${msg}. Layouts: mirror:N, raid0:N, raid5:N, raid6:N, raid10:N, rs:K+M (K ≤ 16, M ≤ 4), e.g. rs:4+2`);
  }
}

/** Parses a compression setting; a bad one is a UsageError naming the accepted forms. Returns the canonical text. */
export function checkCompression(text: string): string {
  try {
    return formatCompression(parseCompression(text));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A bad snapshot name is a usage error; the rest (EEXIST, ENOENT) a CliError with the errno name. */
function asSnapshotError(err: unknown): never {
  if (err instanceof VfsError && err.code === 'EINVAL') throw new UsageError(err.message);
  return asCli(err);
}

/** Turns VfsErrors from the block store into CliErrors with their errno name. */
function asCli(err: unknown): never {
  if (err instanceof VfsError) throw new CliError(err.message, err.code);
  throw err;
}

async function longTask<T>(env: AdminEnv, kind: TaskKind, onProgress: ProgressFn, fn: (p: ProgressFn) => Promise<T>): Promise<T> {
  if (env.task) {
    throw new CliError(`a ${env.task.kind} is already running (${pctOf(env.task)}%); wait for it to finish`, 'EBUSY');
  }
  const task = { kind, done: 0, total: 0 };
  env.task = task;
  try {
    return await fn((done, total) => {
      task.done = done;
      task.total = total;
      onProgress(done, total);
    });
  } catch (err) {
    return asCli(err);
  } finally {
    env.task = undefined;
  }
}

/** Is there a volume (or, for 'VOL@SNAP', a volume snapshot) of that name? (iscsi.target.add checks its LUNs.) */
async function volumeExists(env: AdminEnv, ref: string): Promise<boolean> {
  const { openVolumes, parseVolumeRef } = await import('../vfs/volumes.js');
  const { vol, snap } = parseVolumeRef(ref);
  const info = await openVolumes(await env.vfs()).get(vol).catch(() => undefined);
  return !!info && (snap === undefined || info.snapshots.some((s) => s.name === snap));
}

/** Runs one admin method. Throws UsageError (bad params), CliError (cannot be done). */
export async function runAdmin(env: AdminEnv, method: string, params: Record<string, unknown>, onProgress: ProgressFn = () => {}): Promise<unknown> {
  if (method.startsWith('iscsi.')) return runIscsiAdmin(env.kv, method, params, (ref) => volumeExists(env, ref));
  if (isVolumeMethod(method)) return runVolumeAdmin(env, method, params);
  switch (method) {
    case 'ping':
      return { pid: process.pid, serving: env.serving };
    case 'user.add':
      return env.users.add(str(params, 'name', 'user name'), { password: optStr(params, 'password', 'password'), sshKeys: optStr(params, 'sshKeys', 'public key text') });
    case 'user.list':
      return env.users.list();
    case 'user.remove': {
      const name = str(params, 'name', 'user name');
      await env.users.remove(name);
      return { name };
    }
    case 'user.passwd': {
      const name = str(params, 'name', 'user name');
      await env.users.setPassword(name, str(params, 'password', 'password'));
      return { name };
    }
    case 'user.addkey':
      return env.users.addKeys(str(params, 'name', 'user name'), str(params, 'sshKeys', 'public key text'));
    case 'pool.create':
      return createPoolCmd(env, params);
    case 'pool.set': {
      if (!(await poolExists(env.kv))) throw new CliError(`no pool in ${env.dir.root} yet`, 'ENOENT');
      const c = optStr(params, 'compression', 'compression setting');
      const dedup = params.dedup;
      if (dedup !== undefined && typeof dedup !== 'boolean') throw new UsageError('dedup must be true or false');
      if (c === undefined && dedup === undefined) throw new UsageError('name a pool setting: compression or dedup');
      const canon = c === undefined ? undefined : checkCompression(c);
      const pool = await env.pool();
      if (canon !== undefined) await pool.setCompression(parseCompression(canon)).catch(asCli);
      if (dedup !== undefined) await pool.setDedup(dedup).catch(asCli);
      return { ...(canon !== undefined ? { compression: canon } : {}), ...(dedup !== undefined ? { dedup } : {}) };
    }
    case 'pool.status': {
      if (!(await poolExists(env.kv))) throw new CliError(`no pool in ${env.dir.root} yet: \`dw serve --data ${env.dir.root}\` creates the default (rs:4+2 on six folders), or \`dw pool create\` makes one`, 'ENOENT');
      const pool = await env.pool();
      const stats = await pool.stats();
      const task = stats.task ?? (env.task ? { ...env.task } : undefined);
      const snapshots = (await listSnapshots(await env.snapshots())).map((x) => ({ name: x.name, created: x.created, heldBytes: x.heldBytes }));
      const referenced = Number(decodeCounter(await env.kv.get(keys.counter(COUNTERS.usedBytes))));
      const inlineBytes = Number(decodeCounter(await env.kv.get(keys.counter(COUNTERS.inlineBytes))));
      return { ...stats, ...(task ? { task } : {}), serving: env.serving, engine: env.kv.engine, snapshots, referenced, inlineBytes } satisfies PoolStatus;
    }
    case 'scrub': {
      const repair = params.repair === undefined ? true : params.repair === true;
      const pool = await env.pool();
      return longTask(env, 'scrub', onProgress, (p) => pool.scrub({ repair, onProgress: p }));
    }
    case 'device.replace': {
      const oldRef = str(params, 'old', 'OLD device (index or path)');
      const newPath = str(params, 'new', 'NEW device folder');
      if (!isAbsolute(newPath)) throw new UsageError('NEW must be an absolute path');
      const pool = await env.pool();
      const devices = (await pool.stats()).devices;
      const index = /^\d+$/.test(oldRef) ? Number(oldRef) : devices.findIndex((d) => d.path === resolve(oldRef));
      const dev = devices.find((d) => d.index === index);
      if (!dev) {
        throw new UsageError(`no device "${oldRef}" in the pool; devices: ${devices.map((d) => `${d.index}=${d.path}`).join(', ')}`);
      }
      if (devices.some((d) => d.path === newPath)) throw new UsageError(`${newPath} is already a device of the pool`);
      await mkdir(newPath, { recursive: true });
      const r = await longTask(env, 'rebuild', onProgress, (p) => pool.replaceDevice(index, newPath, p));
      return { index, old: dev.path, new: newPath, rebuiltShards: r.rebuiltShards };
    }
    case 'reclaim': {
      const t = params.threshold;
      if (t !== undefined && (typeof t !== 'number' || !(t >= 0 && t <= 1))) throw new UsageError('--threshold wants a number from 0 to 1');
      const pool = await env.pool();
      return longTask(env, 'reclaim', onProgress, (p) => pool.reclaim({ ...(t !== undefined ? { threshold: t } : {}), onProgress: p }));
    }
    case 'snapshot.create': {
      const snaps = await env.snapshots();
      const path = optStr(params, 'path', '--path');
      let root: { rootIno?: number; path?: string } = {};
      if (path) {
        const v = await env.vfs();
        const p = absPath(path);
        const a = await v.paths.stat(ROOT_CTX, p).catch(asCli);
        if (a.type !== 'dir') throw new CliError(`${p} is not a directory`, 'ENOTDIR');
        root = { rootIno: await liveIno(v, p), path: p };
      }
      return snaps.create(str(params, 'name', 'snapshot NAME'), root).catch(asSnapshotError);
    }
    case 'snapshot.list':
      return listSnapshots(await env.snapshots());
    case 'snapshot.delete': {
      const name = str(params, 'name', 'snapshot NAME');
      await (await env.snapshots()).delete(name).catch(asSnapshotError);
      return { name };
    }
    case 'snapshot.rollback': {
      const name = str(params, 'name', 'snapshot NAME');
      const snaps = await env.snapshots();
      const run = () => snaps.rollback(name, { destroyNewer: params.destroyNewer === true });
      const r = await (env.exclusive ? env.exclusive(run) : run()).catch(asSnapshotError);
      return { name, ...r };
    }
    case 'schedule.set': {
      const keep = params.keep;
      if (typeof keep !== 'number') throw new UsageError('--keep wants a whole number from 1 to 10000');
      return setSchedule(env.kv, { name: str(params, 'name', 'schedule NAME'), everyMs: parseEvery(str(params, 'every', '--every')), keep });
    }
    case 'schedule.list':
      return loadSchedules(env.kv);
    case 'schedule.remove': {
      const name = str(params, 'name', 'schedule NAME');
      await removeSchedule(env.kv, name).catch(asCli);
      return { name };
    }
    case 'quota.set': {
      const kind = quotaKind(params);
      const v = await env.vfs();
      const { id, who } = await quotaTarget(env, v, kind, str(params, 'who', 'who the quota is for'));
      const old = (await v.impl.meta.getQuota(kind, id)).rule;
      const num = (k: string, def: number) => {
        const x = params[k];
        if (x === undefined || x === null) return def;
        if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new UsageError(`${k} wants a whole number ≥ 0`);
        return x;
      };
      const limits: QuotaLimits = {
        bytesHard: num('bytes', old?.bytesHard ?? 0), bytesSoft: num('softBytes', old?.bytesSoft ?? 0),
        inodesHard: num('inodes', old?.inodesHard ?? 0), inodesSoft: num('softInodes', old?.inodesSoft ?? 0),
        graceMs: num('graceMs', old?.graceMs ?? DEFAULT_GRACE_MS),
      };
      await v.impl.meta.setQuota(kind, id, limits, who).catch(asCli);
      return quotaReport(v, kind, id, who);
    }
    case 'quota.get': {
      const kind = quotaKind(params);
      const v = await env.vfs();
      const { id, who } = await quotaTarget(env, v, kind, str(params, 'who', 'who the quota is for'));
      return quotaReport(v, kind, id, who);
    }
    case 'quota.list': {
      const v = await env.vfs();
      return (await v.impl.meta.listQuotas()).map(({ rule, usage }) => ({
        kind: rule.kind, id: rule.id, who: rule.label ?? String(rule.id), usage,
        limits: { bytesHard: rule.bytesHard, bytesSoft: rule.bytesSoft, inodesHard: rule.inodesHard, inodesSoft: rule.inodesSoft, graceMs: rule.graceMs },
      } satisfies QuotaReport));
    }
    case 'retention.set': {
      const path = absPath(str(params, 'path', 'PATH'));
      const periodMs = params.periodMs, graceMs = params.graceMs ?? 0;
      if (typeof periodMs !== 'number' || typeof graceMs !== 'number') throw new UsageError('--period wants a duration like 30d (and --grace like 1h)');
      const v = await env.vfs();
      const ino = await liveIno(v, path);
      await v.impl.meta.setRetention(ino, periodMs, graceMs, path).catch(asSnapshotError);
      return retentionReport(v, path);
    }
    case 'retention.get':
      return retentionReport(await env.vfs(), absPath(str(params, 'path', 'PATH')));
    case 'compression.set':
    case 'dedup.set':
      return setDirSetting(env, method === 'dedup.set' ? 'dedup' : 'compression', params);
    case 'compression.get':
    case 'dedup.get':
      return dirSettingReport(env, await env.vfs(), method === 'dedup.get' ? 'dedup' : 'compression', absPath(str(params, 'path', 'PATH')), true);
    case 'hold.add':
    case 'hold.remove': {
      const path = absPath(str(params, 'path', 'PATH'));
      const name = str(params, 'name', '--name');
      const v = await env.vfs();
      const ino = await liveIno(v, path);
      const op = method === 'hold.add' ? v.impl.meta.addHold(ino, name) : v.impl.meta.removeHold(ino, name);
      await op.catch(asSnapshotError);
      return retentionReport(v, path);
    }
    case 'versions':
      return fileVersions(await env.vfs(), absPath(str(params, 'path', 'PATH')));
    case 'restore': {
      const path = absPath(str(params, 'path', 'PATH'));
      const from = str(params, 'from', '--from SNAPSHOT');
      const to = params.to === undefined || params.to === null ? path : absPath(str(params, 'to', '--to PATH'));
      const v = await env.vfs();
      if (!v.snapshots.find(from)) throw new CliError(`no snapshot ${from} (dw snapshot list)`, 'ENOENT');
      const src = `/.snapshots/${from}${path}`;
      await v.paths.copy(ROOT_CTX, src, to, { overwrite: true, depth: 'infinity' }).catch(asCli);
      await copyOwners(v, src, to).catch(asCli);
      return { path, from, to };
    }
    case 'key.status':
      return poolKeyStatus(env.kv).catch(asKeyError);
    case 'key.rotate': {
      const old = fromWire(params.old, 'current passphrase or key file');
      const next = fromWire(params.new, 'new passphrase or key file');
      return rotatePoolKey(env.kv, old, next).catch(asKeyError);
    }
    case 'key.reencrypt':
      return reencryptCmd(env, params, onProgress);
    default:
      throw new UsageError(`unknown admin method "${method}"`);
  }
}

/** Key errors (wrong secret, wrong kind, not encrypted, no pool) as CliErrors with their own message. */
function asKeyError(err: unknown): never {
  if (err instanceof VfsError && err.code === 'ENOENT') throw new CliError('no pool yet: `dw serve` creates the default one, `dw pool create` makes one', 'ENOENT');
  return asCli(err);
}

async function createPoolCmd(env: AdminEnv, params: Record<string, unknown>): Promise<{ layout: string; devices: string[]; compression: string; dedup: boolean; encryption: string }> {
  const layout = checkLayout(str(params, 'layout', '--layout'));
  const secret = params.encryption === undefined || params.encryption === null ? undefined : fromWire(params.encryption, 'passphrase or key file for --encryption');
  const compression = checkCompression(optStr(params, 'compression', '--compression') ?? DEFAULT_NEW_POOL_COMPRESSION);
  if (params.dedup !== undefined && typeof params.dedup !== 'boolean') throw new UsageError('dedup must be true or false');
  const dedup = params.dedup === true;
  const devs = params.devices;
  if (!Array.isArray(devs) || devs.length === 0 || devs.some((d) => typeof d !== 'string' || !d)) {
    throw new UsageError('give the device folders after the options: dw pool create --layout rs:4+2 DEV1 DEV2 ...');
  }
  const devices = (devs as string[]).map((d) => resolve(d));
  if (new Set(devices).size !== devices.length) throw new UsageError('the same device folder is named twice');
  const existing = await readPoolState(env.kv).catch(asCli);
  if (existing) {
    // From the row alone: an encrypted pool need not be unlocked to say it is there.
    throw new CliError(`a pool already exists in ${env.dir.root} (layout ${existing.layout}, ${existing.devices.length} devices); a data folder holds one pool, so it was left as it is`, 'EEXIST');
  }
  const need = parseLayout(layout).devices;
  if (devices.length !== need) throw new UsageError(`layout ${layout} needs ${need} device folders; ${devices.length} given`);
  for (const d of devices) await mkdir(d, { recursive: true });
  try {
    await createPool(env.kv, { layout, devices, compression, dedup, ...(secret ? { encryption: { secret } } : {}) });
  } catch (err) {
    if (err instanceof VfsError && err.code === 'EINVAL') throw new UsageError(err.message);
    return asCli(err);
  }
  return { layout, devices, compression, dedup, encryption: secret ? `aes-256-gcm (${secret.kind === 'passphrase' ? 'passphrase' : 'key file'})` : 'off' };
}
