/**
 * Starts the WebDAV server for benchmarks and manual tests; prints its URL on stdout, stops on
 * SIGTERM/SIGINT.
 *   tsx scripts/bench/webdav-server.ts [--port N] [--user U --password P] [--vfs memory|MODULE]
 * --vfs MODULE: a module whose default export (or `createVfs`) is
 *   `() => Promise<{ paths: PathVfs; close(): Promise<void> }>` — the pluggable factory, so the
 * benchmark can run against the real pool instead of the memory VFS (env DW_WEBDAV_VFS too).
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { createMemoryVfs, type Authenticator, type PathVfs, type Principal } from '../../vfs/index.js';
import { startWebdavServer } from '../../protocols/webdav/index.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const user = arg('user', 'bench');
const password = arg('password', 'bench-pw');
const port = Number(arg('port', '0'));
const which = arg('vfs', process.env.DW_WEBDAV_VFS ?? 'memory');

const principal: Principal = { name: user, uid: 1000, gid: 1000, groups: [] };
const auth: Authenticator = {
  async checkPassword(u, p) { return u === user && p === password ? principal : null; },
  async checkPublicKey() { return null; },
};

let inst: { paths: PathVfs; close(): Promise<void> };
if (which === 'memory') inst = await createMemoryVfs();
else {
  const mod = await import(pathToFileURL(resolve(which)).href);
  inst = await (mod.createVfs ?? mod.default)();
}
// Give the benchmark user the export root (the memory VFS root belongs to uid 0).
await inst.paths.setattr({ uid: 0, gid: 0, groups: [], clientId: 'bench' }, '/', { uid: principal.uid, gid: principal.gid, mode: 0o755 });
const srv = await startWebdavServer({ paths: inst.paths, auth, host: '127.0.0.1', port });
process.stdout.write(srv.url + '\n');
const stop = async (): Promise<void> => { await srv.close(); await inst.close(); process.exit(0); };
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
