/**
 * The `dw` command line (yargs). Entry: bin/dw.js → main(argv).
 *
 * Exit codes: 0 done; 1 the command could not be done (message on stderr); 2 bad input
 * (unknown command or flag, bad value) with a message saying what to fix. Never a stack trace
 * unless DW_DEBUG is set.
 *
 * Admin commands (user, pool, scrub, device, reclaim, snapshot, quota, …) go through DIR/admin.sock when a server
 * runs there, and otherwise open the data folder directly (store.ts runDirect).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import type { CompressionReport, FileVersion, PoolStatus, QuotaReport, ReencryptReport, RetentionReport } from './admin.js';
import { parseEvery, type Schedule } from './schedule.js';
import { formatBytes, parseCount, parseDuration, parseSize } from './args.js';
import { formatVolumes, parseBlockSize, parseVolumeSize } from './admin-volumes.js';
import type { VolumeInfo } from '../vfs/types.js';
import { checkSocketOwner, dataDir, ensureDataDir, requireExistingDataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import { formatDirSetting, formatKeyStatus, formatPeriod, formatPoolStatus, formatQuotas, formatRetention, formatScrub, formatSnapshots, formatUsers, formatVersions } from './format.js';
import { createLogger, LOG_LEVELS } from './log.js';
import { createProgress } from './progress.js';
import { callAdmin, NO_SERVER } from './rpc.js';
import { type KeyFlags, newSecret, toWire, unlockSecret } from './unlock.js';
import type { PoolKeyStatus } from '../raid/index.js';
import type { ScrubReport } from '../raid/types.js';
import type { UserInfo } from './users.js';
import { iscsiCommands } from './cli-iscsi.js';

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

interface Out {
  out(line: string): void;
  err(line: string): void;
}
const stdio: Out = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

/** --data, else $DW_DATA, else ./dw-data if it exists; UsageError when none. */
function pickData(data: unknown, forServe: boolean): string {
  if (typeof data === 'string' && data) return data;
  if (process.env.DW_DATA) return process.env.DW_DATA;
  if (!forServe && existsSync('dw-data')) return 'dw-data';
  throw new UsageError(forServe
    ? 'missing --data DIR: say where to keep the data, e.g. `dw serve --data ./dw-data` (the folder is created if needed)'
    : 'missing --data DIR: name the data folder that `dw serve --data DIR` uses (or set DW_DATA)');
}

/** The global --key-file / --passphrase-file of this invocation (set by buildCli's middleware). */
let keyFlags: KeyFlags = {};

/**
 * Runs an admin method through the socket if a server answers there, else directly (an
 * encrypted pool is then unlocked in this process from --key-file, --passphrase-file, the
 * environment or a prompt; a running server has its pool unlocked already).
 */
async function admin(data: unknown, method: string, params: Record<string, unknown>, progressLabel?: string, opts: { create?: boolean } = {}): Promise<unknown> {
  const d = dataDir(pickData(data, false));
  const prog = progressLabel ? createProgress(progressLabel) : undefined;
  const onProgress = prog ? (done: number, total: number) => prog.update(done, total) : undefined;
  try {
    checkSocketOwner(d);
    let r = await callAdmin(d.socket, method, params, onProgress);
    if (r === NO_SERVER) {
      if (opts.create) await ensureDataDir(d);
      else requireExistingDataDir(d);
      const { runDirect } = await import('./store.js');
      r = await runDirect(d, method, params, onProgress, keyFlags);
    }
    return r;
  } finally {
    prog?.end();
  }
}

function readKeyFile(file: string): string {
  try {
    const st = readFileSync(file);
    if (st.length > 1 << 20) throw new UsageError(`${file} is larger than 1 MiB: pass an OpenSSH public key file`);
    return st.toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** --password P, or with --password-stdin the first line of standard input (keeps it out of `ps`). */
function readPassword(p: unknown, fromStdin: unknown): string | undefined {
  if (fromStdin) {
    if (p !== undefined) throw new UsageError('give either --password P or --password-stdin, not both');
    return readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '';
  }
  if (p === undefined) return undefined;
  if (typeof p !== 'string') throw new UsageError('--password wants a value');
  return p;
}

function passwordOpts<T>(y: Argv<T>) {
  return y
    .option('password', { alias: 'p', type: 'string', describe: 'password' })
    .option('password-stdin', { type: 'boolean', describe: 'read the password from the first line of standard input' });
}

/** A positional the handler requires; UsageError with the command's form when it is missing. */
function need(v: unknown, what: string, usage: string): string {
  if (v === undefined || v === null || v === '') throw new UsageError(`missing ${what}: ${usage}`);
  return String(v);
}

function dataOpt<T>(y: Argv<T>) {
  return y.option('data', { alias: 'd', type: 'string', describe: 'data folder (default $DW_DATA, or ./dw-data if it exists)' });
}

function jsonOpt<T>(y: Argv<T>) {
  return y.option('json', { type: 'boolean', default: false, describe: 'print JSON' });
}

/** Builds the yargs parser; `io` receives normal output; exit code goes in `state.code`. */
/** A flag given twice takes its last value (`--sftp 127.0.0.1:0 --sftp off`), as in most CLIs. */
const lastValue = (v: unknown) => (Array.isArray(v) ? v[v.length - 1] : v);

export function buildCli(argv: string[], io: Out = stdio, state: { code: number } = { code: 0 }) {
  const print = (json: boolean, value: unknown, human: () => string[]) => {
    if (json) io.out(JSON.stringify(value, null, 2));
    else for (const l of human()) io.out(l);
  };
  /** `dw compression set|get` and `dw dedup set|get`: a directory's setting for what is created in it. */
  const dirSettingCommands = <T>(y: Argv<T>, service: 'compression' | 'dedup') => {
    const forms = service === 'compression' ? 'off|lz4|zstd[:LEVEL]|inherit' : 'on|off|inherit';
    return y
      .command('set [setting]', `set a directory's ${service} for files created in it from now on: ${forms.replaceAll('|', ', ')} (inherit: the pool's)`, (z) =>
        z.positional('setting', { type: 'string', describe: forms.replaceAll('|', ', ') })
          .option('dir', { type: 'string', describe: 'a directory path inside the export' }),
      async (a) => {
        const usage = `dw ${service} set --dir PATH ${forms}`;
        const path = need(a.dir, '--dir PATH', usage);
        const text = need(a.setting, 'the setting', usage);
        const { parseDirCompression } = await import('../vfs/compression.js');
        const { parseDirDedup } = await import('../vfs/dedup.js');
        try {
          if (service === 'compression') parseDirCompression(text);
          else parseDirDedup(text);
        } catch (err) {
          throw new UsageError(`${(err as Error).message}: ${usage}`);
        }
        const r = (await admin((a as { data?: string }).data, `${service}.set`, { path, setting: text })) as CompressionReport;
        const what = r.setting === 'inherit' ? `inherit (the pool's setting, now ${r.pool})` : r.setting;
        io.out(`${r.path}: ${service} ${what} for what is created in it from now on; files already there keep theirs`);
      })
      .command('get', `show a directory's ${service} and its tree's logical vs stored bytes (walks the tree)`, (z) =>
        jsonOpt(z.option('dir', { type: 'string', describe: 'a directory (or file) path inside the export' })),
      async (a) => {
        const r = (await admin((a as { data?: string }).data, `${service}.get`, { path: need(a.dir, '--dir PATH', `dw ${service} get --dir PATH`) })) as CompressionReport;
        print(a.json, r, () => formatDirSetting(r));
      })
      .demandCommand(1, `name a ${service} command: set or get`);
  };
  return yargs(argv)
    .scriptName('dw')
    .usage('$0 <command> [options]\n\nDataWarehouse storage gateway: one pool of disks, erasure coded, served over WebDAV and SFTP.')
    .option('key-file', { type: 'string', coerce: lastValue, describe: 'key file of an encrypted pool: 32 bytes or 64 hex digits (default $DW_KEY_FILE)' })
    .option('passphrase-file', { type: 'string', coerce: lastValue, describe: 'file holding the passphrase of an encrypted pool (default $DW_PASSPHRASE, else asked on the terminal)' })
    .middleware((a) => { keyFlags = { keyFile: a['key-file'] as string | undefined, passphraseFile: a['passphrase-file'] as string | undefined }; })
    .command('serve', 'run the gateway on a data folder (creates the default rs:4+2 pool on first start)', (y) =>
      y.option('data', { alias: 'd', type: 'string', describe: 'data folder, created if needed (default $DW_DATA)' })
        .option('webdav', { type: 'string', coerce: lastValue, describe: 'WebDAV listen HOST:PORT or "off" (default 127.0.0.1:8080; 0.0.0.0:PORT for all interfaces; port 0 = any free)' })
        .option('sftp', { type: 'string', coerce: lastValue, describe: 'SFTP listen HOST:PORT or "off" (default 127.0.0.1:2222)' })
        .option('nfs', { type: 'string', coerce: lastValue, describe: 'NFSv3 (with MOUNT and PORTMAP) listen HOST:PORT or "off" (default off; exports in config.json "nfs", default / to loopback with root squash)' })
        .option('smb', { type: 'string', coerce: lastValue, describe: 'SMB2/3 listen HOST:PORT or "off" (default off; SMB 2.0.2–3.1.1 with NTLMv2, signing, encryption, locks, oplocks, leases, change notify; shares in config.json "smb", default "dw" = /)' })
        .option('iscsi', { type: 'string', coerce: lastValue, describe: 'iSCSI target listen HOST:PORT or "off" (default off; targets with `dw iscsi target add`, volumes with `dw volume create`)' })
        .option('metrics', { type: 'string', coerce: lastValue, describe: 'Prometheus /metrics on HOST:PORT (default off)' })
        .option('config', { type: 'string', describe: 'settings file (JSON; default DIR/config.json if present)' })
        .option('tls-cert', { type: 'string', describe: 'PEM certificate: serve WebDAV over HTTPS' })
        .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
        .option('log-level', { type: 'string', choices: LOG_LEVELS as unknown as string[], describe: 'log level (default info, or "logLevel" in the config)' })
        .option('fuse', { type: 'string', describe: 'also mount the tree at this folder through FUSE' })
        .option('allow-other', { type: 'boolean', describe: 'FUSE: let other users into the mount' })
        .option('default-permissions', { type: 'boolean', describe: 'FUSE: let the kernel check permissions too' })
        .option('show-snapshots', { type: 'boolean', describe: 'list /.snapshots in the root (it is reachable by name in any case)' }),
    async (a) => {
      state.code = await serveCommand({
        data: pickData(a.data, true), webdav: a.webdav, sftp: a.sftp, nfs: a.nfs, smb: a.smb, iscsi: a.iscsi, metrics: a.metrics, config: a.config,
        tlsCert: a['tls-cert'], tlsKey: a['tls-key'], logLevel: a['log-level'],
        fuse: a.fuse, allowOther: a['allow-other'], defaultPermissions: a['default-permissions'], showSnapshots: a['show-snapshots'], ...keyFlags,
      }, io);
    })
    .command('mount [mountpoint]', 'mount the tree as a local folder through FUSE (runs until SIGTERM, then unmounts)', (y) =>
      y.positional('mountpoint', { type: 'string', describe: 'an empty folder; a stale mount left by a killed dw is cleared' })
        .option('data', { alias: 'd', type: 'string', describe: 'data folder (default $DW_DATA)' })
        .option('allow-other', { type: 'boolean', describe: 'let other users into the mount' })
        .option('default-permissions', { type: 'boolean', describe: 'let the kernel check permissions too' })
        .option('log-level', { type: 'string', choices: LOG_LEVELS as unknown as string[] }),
    async (a) => {
      state.code = await serveCommand({
        data: pickData(a.data, true), webdav: 'off', sftp: 'off', logLevel: a['log-level'],
        fuse: need(a.mountpoint, 'MOUNTPOINT', 'dw mount MOUNTPOINT --data DIR'), allowOther: a['allow-other'], defaultPermissions: a['default-permissions'], ...keyFlags,
      }, io);
    })
    .command('iscsi', 'iSCSI targets: block volumes as LUNs (dw iscsi target add|remove|list)', (y) =>
      iscsiCommands(dataOpt(y), { admin: (d, m, p) => admin(d, m, p), print, out: (l) => io.out(l) }))
    .command('user', 'manage users (add, list, remove, passwd, add-key)', (y) =>
      dataOpt(y)
        .command('add [name]', 'add a user with a password and/or SSH public keys', (yy) =>
          passwordOpts(yy.positional('name', { type: 'string', describe: 'user name (letters, digits, _ . -)' }))
            .option('ssh-key', { type: 'string', describe: 'OpenSSH public key file (.pub or authorized_keys)' }),
        async (a) => {
          const u = (await admin(a.data, 'user.add', {
            name: need(a.name, 'NAME', 'dw user add NAME --password P [--ssh-key FILE]'), password: readPassword(a.password, a['password-stdin']), sshKeys: a['ssh-key'] ? readKeyFile(a['ssh-key']) : undefined,
          })) as UserInfo;
          io.out(`added user ${u.name} (uid ${u.uid})`);
        })
        .command('list', 'list users', (yy) => jsonOpt(yy), async (a) => {
          const users = (await admin(a.data, 'user.list', {})) as UserInfo[];
          print(a.json, users, () => formatUsers(users));
        })
        .command(['remove [name]', 'rm [name]'], 'remove a user (their files keep their uid)', (yy) => yy.positional('name', { type: 'string' }), async (a) => {
          await admin(a.data, 'user.remove', { name: need(a.name, 'NAME', 'dw user remove NAME') });
          io.out(`removed user ${a.name}`);
        })
        .command('passwd [name]', 'set a user\'s password', (yy) =>
          passwordOpts(yy.positional('name', { type: 'string' })),
        async (a) => {
          const password = readPassword(a.password, a['password-stdin']);
          if (password === undefined) throw new UsageError('give the new password: dw user passwd NAME --password P (or --password-stdin)');
          await admin(a.data, 'user.passwd', { name: need(a.name, 'NAME', 'dw user passwd NAME --password P'), password });
          io.out(`password of ${a.name} changed`);
        })
        .command('add-key [name]', 'add SSH public keys to a user', (yy) =>
          yy.positional('name', { type: 'string' }).option('ssh-key', { type: 'string', demandOption: 'give the key file with --ssh-key FILE' }),
        async (a) => {
          const u = (await admin(a.data, 'user.addkey', { name: need(a.name, 'NAME', 'dw user add-key NAME --ssh-key FILE'), sshKeys: readKeyFile(a['ssh-key']) })) as UserInfo;
          io.out(`${u.name} now has ${u.sshKeys.length} ssh key(s)`);
        })
        .demandCommand(1, 'name a user command: add, list, remove, passwd, add-key'))
    .command('pool', 'create a pool, show its status or change its settings', (y) =>
      dataOpt(y)
        .command('create [devices..]', 'create the pool of a new data folder on device folders', (yy) =>
          yy.positional('devices', { type: 'string', array: true, describe: 'device folders (one per disk)' })
            .option('layout', { alias: 'l', type: 'string', demandOption: 'give the layout with --layout, e.g. --layout rs:4+2', describe: 'mirror:N, raid0:N, raid5:N, raid6:N, raid10:N or rs:K+M' })
            .option('compression', { type: 'string', coerce: lastValue, describe: 'compression of new blocks: off, lz4, zstd or zstd:LEVEL (1-19; default off)' })
            .option('dedup', { type: 'boolean', default: false, describe: 'deduplicate new files (directories can say otherwise: dw dedup set)' })
            .option('encryption', { type: 'string', coerce: lastValue, describe: 'encrypt every block (AES-256-GCM) under a passphrase (--passphrase-file, $DW_PASSPHRASE or asked) or a key file (--key-file, made if absent); default off' }),
        async (a) => {
          const { checkCompression, checkLayout } = await import('./admin.js');
          const layout = checkLayout(a.layout);
          const compression = a.compression === undefined ? undefined : checkCompression(String(a.compression));
          if (!a.devices?.length) throw new UsageError('missing device folders: dw pool create --layout rs:4+2 DEV1 DEV2 ... (one folder per disk)');
          const devices = a.devices.map((p) => resolve(String(p)));
          const enc = a.encryption === undefined ? 'off' : String(a.encryption);
          if (enc !== 'off' && enc !== 'passphrase' && enc !== 'keyfile') throw new UsageError(`bad --encryption "${enc}": use passphrase, keyfile or off`);
          const made = enc === 'off' ? undefined : await newSecret(enc, { ...keyFlags, envVar: 'DW_PASSPHRASE', keyFlag: '--key-file', passFlag: '--passphrase-file' });
          let r: { layout: string; devices: string[]; compression: string; dedup: boolean; encryption: string };
          try {
            r = (await admin(a.data, 'pool.create', { layout, devices, dedup: a.dedup, ...(compression ? { compression } : {}), ...(made ? { encryption: toWire(made.secret) } : {}) }, undefined, { create: true })) as typeof r;
          } catch (err) {
            if (made?.created) rmSync(made.created, { force: true }); // a key for no pool
            throw err;
          }
          io.out(`created pool ${r.layout} on ${r.devices.length} devices, compression ${r.compression}, dedup ${r.dedup ? 'on' : 'off'}, encryption ${r.encryption}:`);
          for (const [i, p] of r.devices.entries()) io.out(`  ${i}  ${p}`);
          if (made?.created) io.out(`wrote a new random key to ${resolve(made.created)} (mode 0600): keep a copy somewhere safe; without it the data cannot be read`);
        })
        .command('status', 'layout, devices, capacity, dead space, running scrub/rebuild', (yy) => jsonOpt(yy), async (a) => {
          const s = (await admin(a.data, 'pool.status', {})) as PoolStatus;
          print(a.json, s, () => formatPoolStatus(s));
        })
        .command('set [setting]', 'change a pool setting: compression=off|lz4|zstd[:LEVEL] or dedup=on|off (new blocks only)', (yy) =>
          yy.positional('setting', { type: 'string', describe: 'NAME=VALUE, e.g. compression=zstd:3 or dedup=on' }),
        async (a) => {
          const usage = 'dw pool set compression=off|lz4|zstd[:LEVEL] or dw pool set dedup=on|off';
          const m = /^([a-z]+)=(.*)$/.exec(need(a.setting, 'NAME=VALUE', usage));
          if (!m) throw new UsageError(`give the setting as NAME=VALUE: ${usage}`);
          if (m[1] === 'dedup') {
            if (m[2] !== 'on' && m[2] !== 'off') throw new UsageError(`dedup is on or off, not "${m[2]}"`);
            await admin(a.data, 'pool.set', { dedup: m[2] === 'on' });
            io.out(`dedup is now ${m[2]} for new files' records (directories with a setting of their own keep it); blocks already stored stay as they are`);
            return;
          }
          if (m[1] !== 'compression') throw new UsageError(`unknown pool setting "${m[1]}"; settings: compression, dedup`);
          const { checkCompression } = await import('./admin.js');
          const r = (await admin(a.data, 'pool.set', { compression: checkCompression(m[2]!) })) as { compression: string };
          io.out(`compression is now ${r.compression} for new blocks; blocks already stored keep theirs`);
        })
        .demandCommand(1, 'name a pool command: create, status or set'))
    .command('scrub', 'read and verify every shard; rewrite bad ones from redundancy', (y) =>
      jsonOpt(dataOpt(y)).option('repair', { type: 'boolean', default: true, describe: 'rewrite bad shards (--no-repair only reports)' }),
    async (a) => {
      const r = (await admin(a.data, 'scrub', { repair: a.repair }, 'scrub')) as ScrubReport;
      print(a.json, r, () => formatScrub(r));
      if (r.unrecoverable > 0) state.code = 1;
    })
    .command('device', 'replace a device', (y) =>
      dataOpt(y)
        .command('replace [old] [new]', 'rebuild device OLD (index or path) onto the folder NEW', (yy) =>
          yy.positional('old', { type: 'string', describe: 'device index (see dw pool status) or its path' }).positional('new', { type: 'string', describe: 'new device folder' }),
        async (a) => {
          const usage = 'dw device replace OLD NEW (OLD: device index from `dw pool status`, or its path; NEW: the new folder)';
          const oldRef = need(a.old, 'OLD', usage);
          const r = (await admin(a.data, 'device.replace', { old: oldRef, new: resolve(need(a.new, 'NEW', usage)) }, 'rebuild')) as { index: number; old: string; new: string; rebuiltShards: number };
          io.out(`device ${r.index} replaced: ${r.old} -> ${r.new}; rebuilt ${r.rebuiltShards} shards`);
        })
        .demandCommand(1, 'name a device command: replace'))
    .command('reclaim', 'compact segments to free the space of dead shards', (y) =>
      jsonOpt(dataOpt(y)).option('threshold', { type: 'number', describe: 'compact segments whose dead share is above this (0-1)' }),
    async (a) => {
      const r = (await admin(a.data, 'reclaim', a.threshold === undefined ? {} : { threshold: a.threshold }, 'reclaim')) as { freedBytes: number; segmentsCompacted: number };
      print(a.json, r, () => [`reclaim: compacted ${r.segmentsCompacted} segments, freed ${r.freedBytes} bytes`]);
    })
    .command('snapshot', 'take, list and delete snapshots of the tree (read-only, at /.snapshots/NAME)', (y) =>
      dataOpt(y)
        .command('create [name]', 'take a snapshot of the tree, or of one folder with --path (constant time)', (yy) =>
          yy.positional('name', { type: 'string', describe: 'snapshot name (no /)' }).option('path', { type: 'string', describe: 'a folder inside the export: /.snapshots/NAME shows it' }),
        async (a) => {
          const r = (await admin(a.data, 'snapshot.create', { name: need(a.name, 'NAME', 'dw snapshot create NAME [--path DIR]'), ...(a.path ? { path: a.path } : {}) })) as { name: string; path?: string };
          io.out(`snapshot ${r.name}${r.path ? ` of ${r.path}` : ''} created; read it at /.snapshots/${r.name}/`);
        })
        .command(['list', 'ls'], 'list snapshots, oldest first, with the space each holds', (yy) => jsonOpt(yy), async (a) => {
          const r = (await admin(a.data, 'snapshot.list', {})) as { name: string; created: string; heldBytes: number }[];
          print(a.json, r, () => formatSnapshots(r));
        })
        .command(['delete [name]', 'rm [name]'], 'delete a snapshot; space only it held is freed', (yy) => yy.positional('name', { type: 'string' }), async (a) => {
          await admin(a.data, 'snapshot.delete', { name: need(a.name, 'NAME', 'dw snapshot delete NAME') });
          io.out(`snapshot ${a.name} deleted`);
        })
        .command('rollback [name]', 'return the live tree to a snapshot (the newest, or with --destroy-newer any)', (yy) =>
          yy.positional('name', { type: 'string' }).option('destroy-newer', { type: 'boolean', default: false, describe: 'delete snapshots newer than NAME first' }),
        async (a) => {
          const r = (await admin(a.data, 'snapshot.rollback', { name: need(a.name, 'NAME', 'dw snapshot rollback NAME'), destroyNewer: a['destroy-newer'] })) as { name: string; restored: number; removed: number; destroyed: string[] };
          if (r.destroyed.length) io.out(`deleted newer snapshots: ${r.destroyed.join(', ')}`);
          io.out(`rolled back to ${r.name}: ${r.restored} rows restored, ${r.removed} inodes made since removed`);
        })
        .command('schedule', 'take snapshots on a schedule and keep the newest N (runs in dw serve)', (yy) =>
          yy.command('add [name]', 'add or change a schedule: snapshots NAME-<UTC time> every period', (z) =>
            z.positional('name', { type: 'string', describe: 'schedule name, e.g. hourly' })
              .option('every', { type: 'string', describe: 'period: 15m, 1h, 1d, 1w (or hourly, daily, weekly)' })
              .option('keep', { type: 'number', describe: 'how many of its snapshots to keep' }),
          async (a) => {
            const usage = 'dw snapshot schedule add NAME --every 1h --keep 24';
            const r = (await admin(a.data, 'schedule.set', { name: need(a.name, 'NAME', usage), every: need(a.every, '--every', usage), keep: a.keep ?? NaN })) as Schedule;
            io.out(`schedule ${r.name}: a snapshot every ${formatPeriod(r.everyMs)}, keeping ${r.keep}`);
          })
            .command(['list', 'ls'], 'list schedules', (z) => jsonOpt(z), async (a) => {
              const r = (await admin(a.data, 'schedule.list', {})) as Schedule[];
              print(a.json, r, () => (r.length ? r.map((x) => `${x.name}: every ${formatPeriod(x.everyMs)}, keep ${x.keep}`) : ['no schedules (add one: dw snapshot schedule add hourly --every 1h --keep 24)']));
            })
            .command(['remove [name]', 'rm [name]'], 'remove a schedule (its snapshots stay)', (z) => z.positional('name', { type: 'string' }), async (a) => {
              await admin(a.data, 'schedule.remove', { name: need(a.name, 'NAME', 'dw snapshot schedule remove NAME') });
              io.out(`schedule ${a.name} removed; its snapshots stay`);
            })
            .demandCommand(1, 'name a schedule command: add, list or remove'))
        .demandCommand(1, 'name a snapshot command: create, list, delete, rollback or schedule'))
    .command('volume', 'block volumes for iSCSI: create, resize, delete, list, snapshot, clone', (y) =>
      dataOpt(y)
        .command('create [name]', 'make a volume (thin unless --thick)', (yy) =>
          jsonOpt(yy).positional('name', { type: 'string' }).option('size', { type: 'string', describe: 'size, binary units: 100G, 512M, 1T' })
            .option('block', { type: 'string', describe: 'record size, a power of two from 4K to 1M (default 64K)' }).option('thick', { type: 'boolean', default: false, describe: 'allocate every block now' }),
        async (a) => {
          const usage = 'dw volume create NAME --size 100G [--block 64K] [--thick]';
          const params = { name: need(a.name, 'NAME', usage), size: parseVolumeSize('--size', need(a.size, '--size', usage)), ...(a.block ? { block: parseBlockSize(a.block) } : {}), thick: a.thick };
          const r = (await admin(a.data, 'volume.create', params)) as VolumeInfo;
          print(a.json, r, () => [`volume ${r.name} created: ${formatBytes(r.sizeBytes)}, ${formatBytes(r.recordSize)} blocks${r.thick ? ', thick' : ''}`]);
        })
        .command('resize [name]', 'grow or shrink a volume (shrinking drops the data past the new end)', (yy) =>
          jsonOpt(yy).positional('name', { type: 'string' }).option('size', { type: 'string', describe: 'new size: 200G' }),
        async (a) => {
          const usage = 'dw volume resize NAME --size 200G';
          const r = (await admin(a.data, 'volume.resize', { name: need(a.name, 'NAME', usage), size: parseVolumeSize('--size', need(a.size, '--size', usage)) })) as VolumeInfo;
          print(a.json, r, () => [`volume ${r.name} is now ${formatBytes(r.sizeBytes)}`]);
        })
        .command(['delete [name]', 'rm [name]'], 'delete a volume (with its snapshots: --recursive)', (yy) =>
          yy.positional('name', { type: 'string' }).option('recursive', { alias: 'r', type: 'boolean', default: false, describe: 'delete its snapshots too' }),
        async (a) => {
          await admin(a.data, 'volume.delete', { name: need(a.name, 'NAME', 'dw volume delete NAME [--recursive]'), recursive: a.recursive });
          io.out(`volume ${a.name} deleted`);
        })
        .command(['list', 'ls'], 'list volumes: size, block, used, origin, snapshots', (yy) => jsonOpt(yy), async (a) => {
          const r = (await admin(a.data, 'volume.list', {})) as VolumeInfo[];
          print(a.json, r, () => formatVolumes(r));
        })
        .command('snapshot [ref]', 'snapshot a volume: VOL@SNAP (constant time)', (yy) => yy.positional('ref', { type: 'string' }), async (a) => {
          const r = (await admin(a.data, 'volume.snapshot', { name: need(a.ref, 'VOL@SNAP', 'dw volume snapshot VOL@SNAP') })) as { volume: string; name: string };
          io.out(`snapshot ${r.volume}@${r.name} taken`);
        })
        .command('snapshot-delete [ref]', 'delete a volume snapshot; space only it held is freed', (yy) => yy.positional('ref', { type: 'string' }), async (a) => {
          const r = (await admin(a.data, 'volume.snapshot.delete', { name: need(a.ref, 'VOL@SNAP', 'dw volume snapshot-delete VOL@SNAP') })) as { volume: string; name: string };
          io.out(`snapshot ${r.volume}@${r.name} deleted`);
        })
        .command('clone [source] [name]', 'a new writable volume from a snapshot, sharing its blocks', (yy) =>
          jsonOpt(yy).positional('source', { type: 'string' }).positional('name', { type: 'string' }),
        async (a) => {
          const usage = 'dw volume clone VOL@SNAP NEW';
          const r = (await admin(a.data, 'volume.clone', { source: need(a.source, 'VOL@SNAP', usage), name: need(a.name, 'NEW', usage) })) as VolumeInfo;
          print(a.json, r, () => [`volume ${r.name} cloned from ${r.origin ?? a.source}`]);
        })
        .command('rollback [ref]', 'return a volume to a snapshot (its newest, or with --destroy-newer any)', (yy) =>
          yy.positional('ref', { type: 'string' }).option('destroy-newer', { type: 'boolean', default: false, describe: 'delete the volume\'s snapshots newer than SNAP first' }),
        async (a) => {
          const r = (await admin(a.data, 'volume.rollback', { name: need(a.ref, 'VOL@SNAP', 'dw volume rollback VOL@SNAP [--destroy-newer]'), destroyNewer: a['destroy-newer'] })) as { volume: string; name: string; destroyed: string[] };
          if (r.destroyed.length) io.out(`deleted newer snapshots: ${r.destroyed.map((x) => `${r.volume}@${x}`).join(', ')}`);
          io.out(`volume ${r.volume} rolled back to ${r.volume}@${r.name}`);
        })
        .demandCommand(1, 'name a volume command: create, resize, delete, list, snapshot, snapshot-delete, clone or rollback'))
    .command('quota', 'set, show and list quotas per user, group or directory tree', (y) => {
      const target = <T>(z: Argv<T>) => z
        .option('user', { type: 'string', describe: 'a user name or uid' })
        .option('group', { type: 'string', describe: 'a gid, or a user name for their group' })
        .option('dir', { type: 'string', describe: 'a directory path inside the export (its whole tree)' });
      const pick = (a: { user?: string; group?: string; dir?: string }, usage: string): { kind: string; who: string } => {
        const given = (['user', 'group', 'dir'] as const).filter((k) => a[k] !== undefined);
        if (given.length !== 1) throw new UsageError(`name exactly one of --user, --group, --dir: ${usage}`);
        return { kind: given[0]!, who: String(a[given[0]!]) };
      };
      return dataOpt(y)
        .command('set', 'set limits (hard; --soft-* with --grace); 0 removes a limit, unset ones stay', (z) =>
          target(z)
            .option('bytes', { type: 'string', describe: 'hard byte limit: 500M, 10G …' })
            .option('inodes', { type: 'string', describe: 'hard limit on files and directories: 100000, 100k …' })
            .option('soft-bytes', { type: 'string', describe: 'soft byte limit (may be passed for --grace)' })
            .option('soft-inodes', { type: 'string', describe: 'soft inode limit' })
            .option('grace', { type: 'string', describe: 'how long a soft limit may be passed: 15m, 1h, 7d (default 7d)' }),
        async (a) => {
          const usage = 'dw quota set --user NAME|--group GID|--dir PATH [--bytes 10G] [--inodes 100k] [--soft-bytes 8G --grace 7d]';
          const t = pick(a, usage);
          const params: Record<string, unknown> = { ...t };
          if (a.bytes !== undefined) params.bytes = parseSize('--bytes', a.bytes);
          if (a.inodes !== undefined) params.inodes = parseCount('--inodes', a.inodes);
          if (a['soft-bytes'] !== undefined) params.softBytes = parseSize('--soft-bytes', a['soft-bytes']);
          if (a['soft-inodes'] !== undefined) params.softInodes = parseCount('--soft-inodes', a['soft-inodes']);
          if (a.grace !== undefined) params.graceMs = parseEvery(a.grace);
          if (Object.keys(params).length === 2) throw new UsageError(`give at least one limit: ${usage}`);
          const r = (await admin(a.data, 'quota.set', params)) as QuotaReport;
          for (const line of formatQuotas([r])) io.out(line);
        })
        .command('get', 'show one quota and its usage', (z) => jsonOpt(target(z)), async (a) => {
          const r = (await admin(a.data, 'quota.get', pick(a, 'dw quota get --user NAME|--group GID|--dir PATH'))) as QuotaReport;
          print(a.json, r, () => formatQuotas([r]));
        })
        .command(['list', 'ls'], 'list every quota with its usage', (z) => jsonOpt(z), async (a) => {
          const r = (await admin(a.data, 'quota.list', {})) as QuotaReport[];
          print(a.json, r, () => (r.length ? formatQuotas(r) : ['no quotas (set one: dw quota set --user alice --bytes 10G)']));
        })
        .demandCommand(1, 'name a quota command: set, get or list');
    })
    .command('retention', 'WORM: files under a directory become immutable once closed, for a period', (y) =>
      dataOpt(y)
        .command('set [path]', 'give a directory (its whole tree) a retention period; it can only be extended', (z) =>
          z.positional('path', { type: 'string', describe: 'directory inside the export' })
            .option('period', { type: 'string', describe: 'how long files stay immutable: 30d, 7y …' })
            .option('grace', { type: 'string', describe: 'time after a close during which the file may still change (default 0s)' }),
        async (a) => {
          const usage = 'dw retention set PATH --period 30d [--grace 1h]';
          const params = { path: need(a.path, 'PATH', usage), periodMs: parseDuration('--period', need(a.period, '--period', usage)), graceMs: a.grace ? parseDuration('--grace', a.grace) : 0 };
          const r = (await admin(a.data, 'retention.set', params)) as RetentionReport;
          for (const line of formatRetention(r)) io.out(line);
        })
        .command('get [path]', 'show the retention of a directory or file (period, seal, holds)', (z) => jsonOpt(z.positional('path', { type: 'string' })), async (a) => {
          const r = (await admin(a.data, 'retention.get', { path: need(a.path, 'PATH', 'dw retention get PATH') })) as RetentionReport;
          print(a.json, r, () => formatRetention(r));
        })
        .demandCommand(1, 'name a retention command: set or get'))
    .command('compression', 'per-directory compression: what is created below a directory gets its setting', (y) => dirSettingCommands(dataOpt(y), 'compression'))
    .command('dedup', 'per-directory deduplication: files created below a directory store equal chunks once', (y) => dirSettingCommands(dataOpt(y), 'dedup'))
    .command('hold', 'legal holds: keep files immutable, past their retention, until removed', (y) =>
      dataOpt(y)
        .command('add [path]', 'hold a file, or every file of a retention directory', (z) =>
          z.positional('path', { type: 'string' }).option('name', { type: 'string', default: 'legal-hold', describe: 'a name for the hold (a case number …)' }),
        async (a) => {
          const r = (await admin(a.data, 'hold.add', { path: need(a.path, 'PATH', 'dw hold add PATH [--name NAME]'), name: a.name })) as RetentionReport;
          for (const line of formatRetention(r)) io.out(line);
        })
        .command('remove [path]', 'release a hold', (z) =>
          z.positional('path', { type: 'string' }).option('name', { type: 'string', default: 'legal-hold', describe: 'the hold\'s name' }),
        async (a) => {
          const r = (await admin(a.data, 'hold.remove', { path: need(a.path, 'PATH', 'dw hold remove PATH [--name NAME]'), name: a.name })) as RetentionReport;
          for (const line of formatRetention(r)) io.out(line);
        })
        .demandCommand(1, 'name a hold command: add or remove'))
    .command('versions [path]', 'list the versions of a file (or folder) across snapshots, then the live one', (y) =>
      jsonOpt(dataOpt(y)).positional('path', { type: 'string', describe: 'path inside the export, e.g. /docs/report.odt' }),
    async (a) => {
      const r = (await admin(a.data, 'versions', { path: need(a.path, 'PATH', 'dw versions PATH') })) as FileVersion[];
      print(a.json, r, () => formatVersions(r));
    })
    .command('restore [path]', 'bring a file or folder back from a snapshot (shares its blocks; replaces the live one)', (y) =>
      dataOpt(y).positional('path', { type: 'string', describe: 'path inside the export' })
        .option('from', { type: 'string', describe: 'snapshot name (dw snapshot list)' })
        .option('to', { type: 'string', describe: 'restore to this path instead of PATH' }),
    async (a) => {
      const usage = 'dw restore PATH --from SNAPSHOT [--to PATH]';
      const r = (await admin(a.data, 'restore', { path: need(a.path, 'PATH', usage), from: need(a.from, '--from SNAPSHOT', usage), ...(a.to ? { to: a.to } : {}) })) as { path: string; from: string; to: string };
      io.out(`restored ${r.to} from snapshot ${r.from}`);
    })
    .command('key', 'the keys of an encrypted pool: status, rotate, reencrypt', (y) =>
      dataOpt(y)
        .command('status', 'whether the pool is encrypted, how its data keys are wrapped, and a reencrypt\'s progress', (yy) => jsonOpt(yy), async (a) => {
          const r = (await admin(a.data, 'key.status', {})) as PoolKeyStatus;
          print(a.json, r, () => formatKeyStatus(r));
        })
        .command('reencrypt', 'rewrite every block under a new data key (in the background on a running server; resumes after a stop or crash)', (yy) =>
          yy.option('wait', { type: 'boolean', default: false, describe: 'show progress until every block is moved (on a stopped data folder it always runs to the end)' }),
        async (a) => {
          const st = (await admin(a.data, 'key.status', {})) as PoolKeyStatus;
          if (!st.encrypted) throw new CliError(`pool ${st.poolId} is not encrypted: there is no data key to replace (encryption is chosen at \`dw pool create --encryption\`)`, 'EINVAL');
          const secret = await unlockSecret(keyFlags, { poolId: st.poolId, source: st.source! });
          const r = (await admin(a.data, 'key.reencrypt', { secret: toWire(secret), wait: a.wait === true }, 'reencrypt')) as ReencryptReport;
          if (r.finished) {
            io.out(`pool ${r.poolId}: every block is now under data key ${r.to} (${r.rewritten ?? 0} blocks rewritten by this run); data keys kept: ${(r.keys ?? []).join(', ')}`);
            if ((r.keys ?? []).length > 1) io.out(`key ${r.keys![0]} is the pool's first: no block uses it, but the dedup and name keys derive from it, so it stays`);
            io.out('the old copies of the blocks are dead space until `dw reclaim` (or the server\'s automatic reclaim) frees them');
          } else if (r.status) {
            const how = r.started ? `started: new blocks use data key ${r.to} already` : `resumed (${r.status.done}/${r.status.total} blocks visited)`;
            io.out(`pool ${r.poolId}: reencrypt to data key ${r.to} ${how}; it runs in the background: \`dw key status\` shows its progress, \`dw key reencrypt --wait\` follows it`);
          } else {
            io.out(`pool ${r.poolId}: the reencrypt to data key ${r.to} paused (the server is stopping); it resumes at the next start`);
          }
        })
        .command('rotate', 'wrap the data key under a new passphrase or key file (no data is rewritten); the old one stops working', (yy) =>
          yy.option('to', { type: 'string', coerce: lastValue, describe: 'kind of the new secret: passphrase or keyfile (default: the kind the pool has now)' })
            .option('new-passphrase-file', { type: 'string', coerce: lastValue, describe: 'file holding the new passphrase (default $DW_NEW_PASSPHRASE, else asked twice)' })
            .option('new-key-file', { type: 'string', coerce: lastValue, describe: 'the new key file (created with a random key if it does not exist)' }),
        async (a) => {
          const st = (await admin(a.data, 'key.status', {})) as PoolKeyStatus;
          if (!st.encrypted) throw new CliError(`pool ${st.poolId} is not encrypted: there is no key to rotate (encryption is chosen at \`dw pool create --encryption\`)`, 'EINVAL');
          const to = a.to ?? (a['new-key-file'] ? 'keyfile' : a['new-passphrase-file'] ? 'passphrase' : st.source!);
          if (to !== 'passphrase' && to !== 'keyfile') throw new UsageError(`bad --to "${to}": use passphrase or keyfile`);
          const old = await unlockSecret(keyFlags, { poolId: st.poolId, source: st.source! });
          const made = await newSecret(to, { keyFile: a['new-key-file'], passphraseFile: a['new-passphrase-file'], envVar: 'DW_NEW_PASSPHRASE', keyFlag: '--new-key-file', passFlag: '--new-passphrase-file' });
          let r: PoolKeyStatus;
          try {
            r = (await admin(a.data, 'key.rotate', { old: toWire(old), new: toWire(made.secret) })) as PoolKeyStatus;
          } catch (err) {
            if (made.created) rmSync(made.created, { force: true });
            throw err;
          }
          const what = (s: string | undefined) => (s === 'passphrase' ? 'passphrase' : 'key file');
          io.out(`pool ${r.poolId}: the data key is now wrapped under the new ${what(r.source)} (${r.description}); the old ${what(st.source)} no longer opens it; no data was rewritten`);
          if (made.created) io.out(`wrote a new random key to ${resolve(made.created)} (mode 0600): keep a copy somewhere safe`);
        })
        .demandCommand(1, 'name a key command: status, rotate or reencrypt'))
    .demandCommand(1, 'name a command (serve, mount, iscsi, user, pool, scrub, device, reclaim, snapshot, quota, retention, hold, versions, restore, key)')
    .strict()
    .help()
    .alias('help', 'h')
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      const unknown = /^Unknown arguments?: (.*)$/.exec(msg ?? '');
      throw new UsageError(unknown ? `unknown command or option: ${unknown[1]}` : msg || 'bad command line');
    });
}

interface ServeArgs {
  data: string; webdav?: string; sftp?: string; nfs?: string; smb?: string; iscsi?: string; metrics?: string; config?: string; tlsCert?: string; tlsKey?: string; logLevel?: string;
  fuse?: string; allowOther?: boolean; defaultPermissions?: boolean; showSnapshots?: boolean; keyFile?: string; passphraseFile?: string;
}

/** `dw serve`: runs until SIGTERM/SIGINT, then stops cleanly. Resolves with the exit code. */
async function serveCommand(a: ServeArgs, io: Out): Promise<number> {
  const { loadConfig } = await import('./config.js');
  const { bannerLines, startGateway } = await import('./serve.js');
  const cfg = loadConfig(a.config, dataDir(a.data).config);
  const log = createLogger({ level: a.logLevel ?? cfg.logLevel ?? 'info' });
  const gw = await startGateway(a, log);
  for (const l of bannerLines(gw.info)) io.err(l);
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting without finishing the shutdown');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal: sig }, 'signal received');
      gw.stop().then(() => resolveExit(0), (err: unknown) => { log.error({ err }, 'shutdown failed'); resolveExit(1); });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('uncaughtException', (err) => {
      log.fatal({ err }, 'uncaught exception: exiting');
      process.exit(70);
    });
  });
}

/** Parses and runs argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const state = { code: 0 };
  try {
    await buildCli(argv, stdio, state).parseAsync();
    return state.code;
  } catch (err) {
    if (err instanceof UsageError) {
      stdio.err(`dw: ${err.message}`);
      stdio.err('Run `dw --help` (or `dw COMMAND --help`) for usage.');
      return 2;
    }
    if (err instanceof CliError) {
      stdio.err(`dw: ${err.message}`);
      return err.exitCode;
    }
    if (process.env.DW_DEBUG) stdio.err(String((err as Error)?.stack ?? err));
    else stdio.err(`dw: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  }
}
