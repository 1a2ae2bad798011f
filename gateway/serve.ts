/**
 * `dw serve`: the gateway process. Opens DIR's metadata (RocksDB) and pool (creating the
 * embedded default on the first start), the VFS, then the WebDAV and SFTP servers, the admin
 * socket and optionally /metrics. stop() undoes it in the safe order: stop accepting, close the
 * servers, flush the VFS, sync and close the block store and the KV, remove socket and pid file.
 */
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { BlockStore } from '../raid/types.js';
import type { BlockVolume } from '../vfs/types.js';
import { openVfs, type VfsInstance } from '../vfs/index.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { generateHostKey, startSftpServer } from '../protocols/sftp/index.js';
import { ExportConfigError, parseExports, startNfsServer } from '../protocols/nfs/index.js';
import { startWebdavServer } from '../protocols/webdav/index.js';
import { DEFAULT_SHARES, ShareConfigError, startSmbServer } from '../protocols/smb/index.js';
import { reencryptInBackground, runAdmin, type AdminEnv } from './admin.js';
import { clientHost, formatHostPort, parseListen, type ListenAddr } from './args.js';
import { loadConfig } from './config.js';
import { dataDir, ensureDataDir, loadOrCreateHostKey, removePid, writePid, type DataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import type { Logger } from './log.js';
import { createRegistry, nfsCallMetrics, nfs4OpMetrics, startMetricsServer, type MetricsServer } from './metrics.js';
import { listenAdmin, type AdminServer, callAdmin, NO_SERVER } from './rpc.js';
import { ensureDefaultPool, openKv, openPoolOf } from './store.js';
import { unlockSecret } from './unlock.js';
import { type AutoReclaimOptions, startAutoReclaim } from './autoreclaim.js';
import { loadSchedules, runSchedules, SCHEDULE_TICK_MS } from './schedule.js';
import { randomPassword, UserStore } from './users.js';

export interface ServeOptions {
  data: string;
  webdav?: string;
  sftp?: string;
  /** NFSv3 listen address (issue 6); off by default. */
  nfs?: string;
  /** SMB2/3 listen address (issue 7); off by default. */
  smb?: string;
  /** iSCSI target listen address (issue 8); off by default. */
  iscsi?: string;
  metrics?: string;
  config?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Mount the tree here through FUSE (issue 4). */
  fuse?: string;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  /** List /.snapshots in the root (it is reachable by name in any case). */
  showSnapshots?: boolean;
  /** Secret of an encrypted pool (else $DW_KEY_FILE / $DW_PASSPHRASE or a prompt: unlock.ts). */
  keyFile?: string;
  passphraseFile?: string;
}

/** Runs the snapshot schedules (gateway/schedule.ts) now and every SCHEDULE_TICK_MS. */
function startSchedules(kv: KvStore, v: VfsInstance, log: Logger): Closer {
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      try {
        const r = await runSchedules(v.snapshots, await loadSchedules(kv), new Date());
        for (const n of r.created) log.info({ snapshot: n }, 'scheduled snapshot taken');
        for (const n of r.deleted) log.info({ snapshot: n }, 'scheduled snapshot expired and deleted');
      } catch (err) {
        log.warn({ err: String(err) }, 'snapshot schedule failed; retrying at the next check');
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, SCHEDULE_TICK_MS);
  timer.unref();
  tick();
  return { name: 'snapshot schedules', close: async () => { clearInterval(timer); await running; } };
}

/** What the banner shows; also returned to tests. */
export interface ServeInfo {
  dataDir: string;
  layout: string;
  devices: number;
  poolCreated: boolean;
  /** The pool is encrypted (and was unlocked). */
  encrypted?: boolean;
  webdavUrl?: string;
  sftp?: { host: string; port: number };
  nfs?: { host: string; port: number };
  smb?: { host: string; port: number; shares: string[] };
  iscsi?: { host: string; port: number };
  metricsUrl?: string;
  /** FUSE mount point. */
  fuse?: string;
  adminSocket: string;
  /** PEM certificate WebDAV serves, when TLS is on (for curl --cacert). */
  tlsCert?: string;
  /** Set only on the start that created the first user. */
  adminPassword?: string;
}

export interface Gateway {
  info: ServeInfo;
  /** Idempotent; resolves when everything is closed and flushed. */
  stop(): Promise<void>;
}

interface Closer { name: string; close(): Promise<void> }

/** Resolves the effective listen addresses from flags, config file and defaults. */
export function resolveServeOptions(o: ServeOptions, d: DataDir) {
  const cfg = loadConfig(o.config, d.config);
  const webdav = parseListen('webdav', o.webdav ?? cfg.webdav ?? '127.0.0.1:8080');
  const sftp = parseListen('sftp', o.sftp ?? cfg.sftp ?? '127.0.0.1:2222');
  const nfsText = o.nfs ?? cfg.nfs;
  const nfs = nfsText ? parseListen('nfs', nfsText) : null;
  const smbText = o.smb ?? cfg.smb;
  const smb = smbText ? parseListen('smb', smbText) : null;
  const iscsiText = o.iscsi ?? cfg.iscsi;
  const iscsi = iscsiText ? parseListen('iscsi', iscsiText) : null;
  const metricsText = o.metrics ?? cfg.metrics;
  const metrics = metricsText ? parseListen('metrics', metricsText) : null;
  const tlsCert = o.tlsCert ?? cfg.tlsCert;
  const tlsKey = o.tlsKey ?? cfg.tlsKey;
  if (!!tlsCert !== !!tlsKey) throw new UsageError('TLS needs both --tls-cert FILE and --tls-key FILE');
  const fuse = o.fuse ? resolve(o.fuse) : undefined;
  if (!webdav && !sftp && !fuse && !nfs && !smb && !iscsi) throw new UsageError('both --webdav and --sftp are off and no --fuse mount point: nothing to serve');
  return { cfg, webdav, sftp, nfs, smb, iscsi, metrics, tlsCert, tlsKey, fuse, allowOther: o.allowOther ?? false, defaultPermissions: o.defaultPermissions };
}

async function withTimeout(p: Promise<unknown>, ms: number, log: Logger, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<void>((resolve) => { timer = setTimeout(() => { log.warn({ what, ms }, 'close timed out; going on'); resolve(); }, ms); });
  await Promise.race([p.then(() => {}, (err: unknown) => { log.warn({ err, what }, 'close failed'); }), t]);
  clearTimeout(timer);
}

function listenError(err: unknown, what: string, addr: ListenAddr, flag: string): never {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') {
    const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : 'no such local address';
    throw new CliError(`cannot listen on ${formatHostPort(addr.host, addr.port)} for ${what}: ${why}; pick another with --${flag} HOST:PORT`, e.code);
  }
  throw err;
}

/** Starts the gateway on the data folder. Throws UsageError/CliError on bad options or a busy folder. */
export async function startGateway(o: ServeOptions, log: Logger): Promise<Gateway> {
  const d = dataDir(o.data);
  const opts = resolveServeOptions(o, d);
  await ensureDataDir(d);
  // Another server on this folder answers on its socket: say so before touching anything.
  if ((await callAdmin(d.socket, 'ping', {}).catch(() => NO_SERVER)) !== NO_SERVER) {
    throw new CliError(`a dw server is already serving ${d.root} (its admin socket ${d.socket} answers); stop it first`, 'EBUSY');
  }
  const closers: Closer[] = [];
  let kv: KvStore | undefined;
  let pool: BlockStore | undefined;
  let vfsi: VfsInstance | undefined;
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      log.info('stopping: closing servers');
      // Stop accepting first (admin socket, protocols, metrics), newest first.
      for (const c of [...closers].reverse()) await withTimeout(c.close(), 10_000, log, c.name);
      if (vfsi) {
        log.info('flushing files and syncing the pool');
        await withTimeout(vfsi.impl.flushAll(), 60_000, log, 'vfs flush');
        if (pool) await withTimeout(pool.sync(), 60_000, log, 'pool sync');
        if (kv) await withTimeout(kv.sync(), 30_000, log, 'kv sync');
        await withTimeout(vfsi.close(), 60_000, log, 'vfs close');
      } else {
        if (pool) await withTimeout(pool.close(), 60_000, log, 'pool close');
        if (kv) await withTimeout(kv.close(), 30_000, log, 'kv close');
      }
      await removePid(d);
      log.info('stopped');
    })();
    return stopped;
  };

  try {
    kv = await openKv(d);
    const poolCreated = await ensureDefaultPool(kv, d);
    if (poolCreated) log.info({ layout: 'rs:4+2', devices: d.devices }, 'created the default pool');
    if (poolCreated && (o.keyFile || o.passphraseFile)) {
      log.warn('the default pool is not encrypted: --key-file/--passphrase-file are not used; an encrypted pool is made with `dw pool create --encryption` before the first start');
    }
    // An encrypted pool is unlocked here, before anything is written (openPool checks the key first).
    pool = await openPoolOf(kv, log.child({ component: 'raid' }), (req) => unlockSecret({ keyFile: o.keyFile, passphraseFile: o.passphraseFile }, req));
    const users = new UserStore(kv);
    const { key: hostKey, created: keyCreated } = await loadOrCreateHostKey(d, generateHostKey);
    if (keyCreated) log.info({ path: d.hostKey }, 'generated the SFTP host key');
    vfsi = await openVfs({ kv, blocks: pool, log: (msg) => log.info(msg) });
    vfsi.impl.showSnapshots = o.showSnapshots ?? false;
    const vfsRefusals = vfsi.impl.meta;
    vfsRefusals.onRetentionRefusal = (message) => log.warn({ reason: message }, 'retention: change refused');
    // The registry exists before the protocols so that they can count into it (NFS calls).
    const statsPool = pool;
    const registry = opts.metrics ? createRegistry(() => statsPool.stats(), () => vfsRefusals.retentionRefusals) : undefined;
    const stats = await pool.stats();
    const info: ServeInfo = { dataDir: d.root, layout: stats.layout, devices: stats.devices.length, poolCreated, adminSocket: d.socket, ...(stats.encryption === 'aes-256-gcm' ? { encrypted: true } : {}) };

    if (opts.webdav) {
      const a = opts.webdav;
      const tls = opts.tlsCert && opts.tlsKey ? { cert: await readTls(opts.tlsCert, 'certificate'), key: await readTls(opts.tlsKey, 'key') } : undefined;
      const srv = await startWebdavServer({ paths: vfsi.paths, auth: users, host: a.host, port: a.port, ...(tls ? { tls } : {}), logger: log.child({ proto: 'webdav' }) })
        .catch((err: unknown) => listenError(err, 'WebDAV', a, 'webdav'));
      closers.push({ name: 'webdav', close: () => srv.close() });
      if (opts.tlsCert && tls) info.tlsCert = opts.tlsCert;
      info.webdavUrl = `${tls ? 'https' : 'http'}://${formatHostPort(clientHost(a.host), srv.port)}/`;
    }
    if (opts.sftp) {
      const a = opts.sftp;
      const srv = await startSftpServer({ paths: vfsi.paths, auth: users, host: a.host, port: a.port, hostKeys: [hostKey], logger: log.child({ proto: 'sftp' }) })
        .catch((err: unknown) => listenError(err, 'SFTP', a, 'sftp'));
      closers.push({ name: 'sftp', close: () => srv.close() });
      info.sftp = { host: a.host, port: srv.port };
    }
    if (opts.nfs) {
      const a = opts.nfs;
      // Without exports in the config: the whole namespace to the loopback addresses, root squashed.
      const exports = opts.cfg.nfsExports ?? parseExports([{ path: '/' }], 'nfs.exports');
      const pm = opts.cfg.nfsPortmapPort;
      // Lock state for a grace period after a restart, in the data folder: the NLM client hosts
      // holding locks (for SM_NOTIFY) and the NFSv4 clients' stable record. One grace covers both.
      const c = opts.cfg;
      const nlm = {
        stateFile: join(d.root, 'nfs-locks.json'),
        ...(c.nfsGraceSeconds !== undefined ? { graceMs: c.nfsGraceSeconds * 1000 } : {}),
        ...(c.nfsPeerPortmapPort ? { peerPortmapPort: c.nfsPeerPortmapPort } : {}),
        ...(c.nfsServerName ? { serverName: c.nfsServerName } : {}),
      };
      const v4 = {
        stateDir: join(d.root, 'nfs4-state'),
        ...(c.nfsLeaseSeconds !== undefined ? { leaseSeconds: c.nfsLeaseSeconds } : {}),
        ...(c.nfsGraceSeconds !== undefined ? { graceSeconds: c.nfsGraceSeconds } : {}),
      };
      const srv = await startNfsServer({
        vfs: vfsi.vfs, host: a.host, port: a.port, exports, nlm, ...v4, ...(pm ? { portmapPort: pm } : {}),
        ...(registry ? { onCall: nfsCallMetrics(registry), onOp: nfs4OpMetrics(registry) } : {}), logger: log.child({ proto: 'nfs' }),
      })
        .catch((err: unknown) => {
          if (err instanceof ExportConfigError) throw new UsageError(`nfs.exports: ${err.message}`);
          return listenError(err, 'NFS', a, 'nfs');
        });
      closers.push({ name: 'nfs', close: () => srv.close() });
      info.nfs = { host: a.host, port: srv.port };
    }
    if (opts.smb) {
      const a = opts.smb;
      const shares = opts.cfg.smbShares ?? [...DEFAULT_SHARES];
      const srv = await startSmbServer({
        host: a.host, port: a.port, shares, paths: vfsi.paths, lookup: (user) => users.smbAccount(user),
        ...(opts.cfg.smbServerName ? { serverName: opts.cfg.smbServerName } : {}), logger: log.child({ proto: 'smb' }),
      })
        .catch((err: unknown) => {
          if (err instanceof ShareConfigError) throw new UsageError(`smb.shares: ${err.message}`);
          return listenError(err, 'SMB', a, 'smb');
        });
      closers.push({ name: 'smb', close: () => srv.close() });
      info.smb = { host: a.host, port: srv.port, shares: shares.map((x) => x.name) };
    }
    if (opts.iscsi) {
      const a = opts.iscsi;
      const { startIscsiServer, createTargetDevices } = await import('../protocols/iscsi/index.js');
      const { IscsiTargetStore } = await import('./admin-iscsi.js');
      const { openVolumes } = await import('../vfs/volumes.js');
      const volumes = openVolumes(vfsi);
      const srv = await startIscsiServer({
        host: a.host, port: a.port, catalog: new IscsiTargetStore(kv), logger: log.child({ proto: 'iscsi' }),
        // A target's volumes open at its first login and close once it is removed or changed (IscsiTargetStore.watch) and no session uses them, or at stop.
        openTarget: async (t) => {
          const luns = new Map<number, BlockVolume>();
          try {
            for (const l of t.luns) luns.set(l.lun, await volumes.open(l.volume));
          } catch (err) {
            for (const v of luns.values()) await v.close().catch(() => undefined);
            throw err;
          }
          return { devices: createTargetDevices(luns, { targetName: t.iqn }), close: async () => { for (const v of luns.values()) await v.close(); } };
        },
      }).catch((err: unknown) => listenError(err, 'iSCSI', a, 'iscsi'));
      closers.push({ name: 'iscsi', close: () => srv.close() });
      info.iscsi = { host: a.host, port: srv.port };
    }
    if (opts.fuse) {
      const { mountFuse } = await import('../protocols/fuse/index.js');
      const m = await mountFuse({ vfs: vfsi.vfs, mountpoint: opts.fuse, allowOther: opts.allowOther, defaultPermissions: opts.defaultPermissions, log: log.child({ proto: 'fuse' }) })
        .catch((err: unknown) => { throw new CliError(`cannot mount ${opts.fuse}: ${(err as Error).message}`, 'EMOUNT'); });
      closers.push({ name: 'fuse', close: () => m.close() });
      info.fuse = opts.fuse;
      log.info({ mountpoint: opts.fuse }, 'fuse mounted');
    }
    if (opts.metrics && registry) {
      const a = opts.metrics;
      const m: MetricsServer = await startMetricsServer(registry, a.host, a.port).catch((err: unknown) => listenError(err, 'metrics', a, 'metrics'));
      closers.push({ name: 'metrics', close: () => m.close() });
      info.metricsUrl = `http://${formatHostPort(clientHost(a.host), m.port)}/metrics`;
      log.info({ url: info.metricsUrl }, 'metrics listening');
    }
    const openPoolNow = pool;
    const snapshotsNow = vfsi.snapshots;
    const vfsNow = vfsi.impl;
    const vfsNowInstance = vfsi;
    const env: AdminEnv = { dir: d, kv, users, serving: true, pool: async () => openPoolNow, snapshots: async () => snapshotsNow, vfs: async () => vfsNowInstance, exclusive: (fn) => vfsNow.exclusive(fn), log: log.child({ component: 'reencrypt' }) };
    const admin: AdminServer = await listenAdmin(d.socket, (method, params, onProgress) => {
      log.info({ method }, 'admin request');
      return runAdmin(env, method, params, onProgress);
    }, log);
    closers.push({ name: 'admin socket', close: () => admin.close() });
    closers.push(startSchedules(kv, vfsi, log));
    closers.push(startAutoReclaim(env, pool, log.child({ component: 'reclaim' }), autoReclaimFromEnv()));
    // A `dw key reencrypt` cut short (a stop, a crash) goes on from its cursor, in the background.
    const pending = await pool.reencryptStatus?.();
    if (pending) {
      log.info({ to: pending.to, done: pending.done, total: pending.total }, 'resuming the reencrypt recorded in the pool, in the background');
      reencryptInBackground(env, pool);
    }
    await writePid(d);
    // The first user is made last, once every listener is up, so a start that fails (a port in
    // use) never creates a password that no banner showed.
    if (!(await users.any())) {
      info.adminPassword = randomPassword();
      await users.add('admin', { password: info.adminPassword });
      log.info({ user: 'admin' }, 'created the first user');
    }
    log.info({ dataDir: d.root, layout: info.layout, webdav: info.webdavUrl, sftpPort: info.sftp?.port, socket: d.socket }, 'serving');
    return { info, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** DW_RECLAIM_EVERY_MS, DW_RECLAIM_MIN_DEAD (bytes) and DW_RECLAIM_MIN_RATIO override the defaults (tests). */
function autoReclaimFromEnv(): AutoReclaimOptions {
  const n = (name: string) => (process.env[name] !== undefined && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : undefined);
  const everyMs = n('DW_RECLAIM_EVERY_MS'), minDeadBytes = n('DW_RECLAIM_MIN_DEAD'), minDeadRatio = n('DW_RECLAIM_MIN_RATIO');
  return { ...(everyMs !== undefined ? { everyMs } : {}), ...(minDeadBytes !== undefined ? { minDeadBytes } : {}), ...(minDeadRatio !== undefined ? { minDeadRatio } : {}) };
}

async function readTls(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The lines `dw serve` prints for a person: where to connect and how to log in. */
export function bannerLines(info: ServeInfo): string[] {
  const user = info.adminPassword ? 'admin' : 'USER';
  const pass = info.adminPassword ?? 'PASSWORD';
  const dataFlag = `--data ${shellQuote(info.dataDir)}`;
  const lines = [`DataWarehouse is serving ${info.dataDir} (pool ${info.layout} on ${info.devices} devices${info.encrypted ? ', encrypted' : ''}${info.poolCreated ? ', created now' : ''})`];
  if (info.webdavUrl) lines.push(`  WebDAV:  ${info.webdavUrl}`);
  if (info.sftp) lines.push(`  SFTP:    ${clientHost(info.sftp.host)} port ${info.sftp.port}`);
  if (info.nfs) lines.push(`  NFS:     ${clientHost(info.nfs.host)} port ${info.nfs.port} (v3, v4.0, v4.1; MOUNT, PORTMAP, NLM v4 and NSM on the same port)`);
  if (info.smb) lines.push(`  SMB:     ${clientHost(info.smb.host)} port ${info.smb.port} (SMB 2.0.2-3.1.1: file access, locks, oplocks and leases, durable handles, change notify, previous versions; shares ${info.smb.shares.join(', ')})`);
  if (info.iscsi) lines.push(`  iSCSI:   ${clientHost(info.iscsi.host)} port ${info.iscsi.port} (targets: dw iscsi target add|list ${dataFlag})`);
  if (info.fuse) lines.push(`  FUSE:    mounted at ${info.fuse}`);
  if (info.metricsUrl) lines.push(`  Metrics: ${info.metricsUrl}`);
  if (info.adminPassword) {
    lines.push('', `  First user created: admin, password ${info.adminPassword}`, '  (shown only this once: note it, or change it with `dw user passwd admin --password NEW ' + dataFlag + '`)');
  }
  lines.push('', '  Log in:');
  if (info.webdavUrl) {
    const ca = info.tlsCert ? ` --cacert ${shellQuote(info.tlsCert)}` : '';
    lines.push(`    curl${ca} -u ${user}:${pass} ${info.webdavUrl}`);
    lines.push(`    curl${ca} -u ${user}:${pass} -T FILE ${info.webdavUrl}`);
  }
  if (info.sftp) {
    const h = clientHost(info.sftp.host);
    lines.push(`    sftp -P ${info.sftp.port} ${user}@${h.includes(':') ? `[${h}]` : h}`);
  }
  if (info.smb) {
    const h = clientHost(info.smb.host);
    lines.push(`    smbclient //${h.includes(':') ? `[${h}]` : h}/${info.smb.shares[0]} -p ${info.smb.port} -U ${user}%${pass} -c exit`);
  }
  if (info.iscsi) lines.push(`    iscsi-ls -s iscsi://${formatHostPort(clientHost(info.iscsi.host), info.iscsi.port)}`);
  if (info.nfs) lines.push(`    nfs-ls "nfs://${clientHost(info.nfs.host)}/?version=3&nfsport=${info.nfs.port}&mountport=${info.nfs.port}"`);
  lines.push(
    '',
    `  Add users:  dw user add NAME --password P [--ssh-key KEY.pub] ${dataFlag}`,
    `  Pool:       dw pool status ${dataFlag}`,
    '  Stop:       Ctrl-C (or kill -TERM ' + process.pid + ')',
  );
  return lines;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
