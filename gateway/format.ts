/** Human-readable text for admin results (the --json forms print the results as they are). */
import type { PoolKeyStatus } from '../raid/index.js';
import type { ScrubReport } from '../raid/types.js';
import type { CompressionReport, FileVersion, PoolStatus, QuotaReport, RetentionReport } from './admin.js';
import { formatBytes } from './args.js';
import { percent } from './progress.js';
import type { UserInfo } from './users.js';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatUsers(users: UserInfo[]): string[] {
  if (!users.length) return ['no users (add one: dw user add NAME --password P)'];
  return table([
    ['NAME', 'UID', 'GID', 'LOGIN', 'CREATED'],
    ...users.map((u) => [
      u.name, String(u.uid), String(u.gid),
      [u.hasPassword ? (u.smb === false ? 'password (not for SMB until set again)' : 'password') : '', u.sshKeys.length ? `${u.sshKeys.length} ssh key${u.sshKeys.length > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ') || 'none',
      u.created.slice(0, 19).replace('T', ' '),
    ]),
  ]);
}

/** logical / stored as '1.00x' ('1.00x' for an empty pool). */
export function compressRatio(logical: number, stored: number): string {
  return `${(stored > 0 ? logical / stored : 1).toFixed(2)}x`;
}

export function formatPoolStatus(s: PoolStatus): string[] {
  const lines = [
    `pool:     ${s.layout}, ${s.devices.length} devices, ${s.serving ? 'server running' : 'server stopped'}`,
    `capacity: ${formatBytes(s.capacity)} usable, ${formatBytes(s.free)} free (after parity)`,
    `used:     ${formatBytes(s.logicalUsed)} of file data in ${s.blocks} blocks, ${formatBytes(s.physicalUsed)} on the devices; ${formatBytes(s.inlineBytes)} of small files in the metadata`,
    `compress: ${s.compression} for new blocks; ${formatBytes(s.storedUsed)} stored before parity, ratio ${compressRatio(s.logicalUsed, s.storedUsed)}`,
    `dedup:    ${s.dedup ? 'on' : 'off'} for new files (dw dedup set --dir changes a directory); the files hold ${formatBytes(s.referenced)}, ratio ${compressRatio(s.referenced, s.logicalUsed + s.inlineBytes)} (dedup and clones)`,
    `dead:     ${formatBytes(s.dead)} reclaimable (dw reclaim)`,
  ];
  if (s.encryption && s.encryption !== 'off') lines.splice(4, 0, `encrypt:  ${s.encryption} per block, data key wrapped by the pool's passphrase or key file (dw key status)`);
  if (s.task) lines.push(`task:     ${s.task.kind} running, ${percent(s.task.done, s.task.total)}% (${s.task.done}/${s.task.total})`);
  const bad = s.devices.filter((d) => d.state !== 'online');
  lines.push(`health:   ${bad.length ? `DEGRADED: ${bad.map((d) => `device ${d.index} ${d.state}`).join(', ')}` : 'all devices online'}`);
  lines.push('');
  lines.push(...table([
    ['DEV', 'STATE', 'USED', 'FREE', 'ERRORS', 'PATH'],
    ...s.devices.map((d) => [String(d.index), d.state, formatBytes(d.used), formatBytes(d.free), `${d.readErrors + d.checksumErrors}`, d.path]),
  ]));
  if (s.snapshots?.length) {
    lines.push('');
    lines.push(...formatSnapshots(s.snapshots));
  }
  return lines;
}

export function formatScrub(r: ScrubReport): string[] {
  const lines = [
    `scrub: checked ${r.blocksChecked} blocks (${r.shardsChecked} shards)`,
    `  bad shards found: ${r.badShards}`,
    `  repaired:         ${r.repaired}`,
    `  unrecoverable:    ${r.unrecoverable} blocks`,
  ];
  if (r.unrecoverable > 0) lines.push('  DATA LOSS: some blocks have fewer good shards than the layout needs; reads of them return EIO');
  else if (r.badShards === 0) lines.push('  all shards good');
  else if (r.repaired === r.badShards) lines.push('  every bad shard was rewritten from redundancy');
  return lines;
}

/** Snapshots with the space each holds (what deleting it can free). */
export function formatSnapshots(snaps: { name: string; created: string; heldBytes: number }[]): string[] {
  if (!snaps.length) return ['no snapshots (take one: dw snapshot create NAME)'];
  return table([
    ['SNAPSHOT', 'CREATED', 'HELD'],
    ...snaps.map((x) => [x.name, x.created.slice(0, 19).replace('T', ' '), formatBytes(x.heldBytes)]),
  ]);
}

/** A file's versions, oldest first, the live one last. */
export function formatVersions(vs: FileVersion[]): string[] {
  return table([
    ['VERSION', 'SIZE', 'MODIFIED', 'READ AT'],
    ...vs.map((v) => [v.snapshot ?? '(live)', v.type === 'dir' ? 'dir' : formatBytes(v.size), v.mtime.slice(0, 19).replace('T', ' '), v.sameAsPrevious ? '(same as above)' : v.path]),
  ]);
}

/** 3600000 → '1h', 86400000 → '1d', 900000 → '15m'. */
export function formatPeriod(ms: number): string {
  for (const [u, n] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms} ms`;
}

/** Quotas with usage against each limit (0: none, shown as -). */
export function formatQuotas(qs: QuotaReport[]): string[] {
  const lim = (n: number, f: (n: number) => string) => (n ? f(n) : '-');
  const over = (since: number) => (since ? ` (over soft since ${new Date(since).toISOString().slice(0, 16).replace('T', ' ')})` : '');
  return table([
    ['KIND', 'WHO', 'BYTES USED', 'HARD', 'SOFT', 'INODES', 'HARD', 'SOFT'],
    ...qs.map((q) => [
      q.kind, q.who, formatBytes(q.usage.bytes) + over(q.usage.bytesOverSince), lim(q.limits.bytesHard, formatBytes), lim(q.limits.bytesSoft, formatBytes),
      String(q.usage.inodes) + over(q.usage.inodesOverSince), lim(q.limits.inodesHard, String), lim(q.limits.inodesSoft, String),
    ]),
  ]);
}

/** A path's retention in a few lines. */
export function formatRetention(r: RetentionReport): string[] {
  const lines = [`${r.path}:`];
  lines.push(r.periodMs !== undefined ? `  retention: ${formatPeriod(r.periodMs)} after close${r.graceMs ? ` + ${formatPeriod(r.graceMs)} grace` : ''}` : '  retention: none');
  if (r.retainedUntil) lines.push(`  immutable: from ${r.sealedFrom!.slice(0, 19).replace('T', ' ')} until ${r.retainedUntil.slice(0, 19).replace('T', ' ')} UTC`);
  lines.push(`  holds:     ${r.holds.length ? r.holds.join(', ') : 'none'}`);
  return lines;
}

/** `dw compression get` / `dw dedup get`: the setting, and the tree's logical, stored and distinct bytes. */
export function formatDirSetting(r: CompressionReport): string[] {
  const lines = [`${r.path}:`];
  const label = `${r.service}:`.padEnd(13);
  lines.push(`  ${label}${r.setting === 'inherit' ? `inherit (the pool's: ${r.pool})` : r.setting}`);
  if (r.tree) {
    const t = r.tree;
    lines.push(`  tree:        ${t.inodes} files and directories; ${formatBytes(t.logical)} of file data, ${formatBytes(t.stored)} stored before parity, ratio ${compressRatio(t.logical, t.stored)}`);
    if (t.unique < t.stored) lines.push(`  shared:      ${formatBytes(t.unique)} in distinct blocks (dedup and clones), ratio ${compressRatio(t.logical, t.unique)}`);
    if (t.missing) lines.push(`  warning:     ${t.missing} extents name a block with no row (dw scrub)`);
  }
  return lines;
}

/** `dw key status`: the record, its data keys, and a reencrypt under way. */
export function formatKeyStatus(r: PoolKeyStatus): string[] {
  if (!r.encrypted) return [`pool ${r.poolId}: not encrypted (encryption is chosen at \`dw pool create --encryption\`)`];
  const lines = [`pool ${r.poolId}: encrypted, ${r.description}`];
  if (r.keys && r.current !== undefined) {
    lines.push(`  data keys: ${r.keys.join(', ')}; new blocks are sealed with key ${r.current}`);
    if (r.keys.length > 1 && !r.reencrypt) lines.push(`  key ${r.keys[0]} is the pool's first: no block uses it, the dedup and name keys derive from it`);
  }
  const re = r.reencrypt;
  if (re) {
    lines.push(`  reencrypt: moving every block from key ${re.from.join(', ')} to key ${re.to}: ${percent(re.done, re.total)}% (${re.done}/${re.total} blocks), started ${re.started.slice(0, 19).replace('T', ' ')} UTC`);
    lines.push('  (runs in `dw serve`; after a stop or crash it resumes at the next start or `dw key reencrypt`)');
  }
  return lines;
}
