/**
 * Starts the WebDAV server for benchmarks and manual tests; prints its URL on stdout, stops on
 * SIGTERM/SIGINT.
 *   tsx scripts/bench/webdav-server.ts [--port N] [--user U --password P] [--vfs memory|MODULE]
 * --vfs MODULE: a module whose default export (or `createVfs`) is
 *   `() => Promise<{ paths: PathVfs; close(): Promise<void> }>` — the pluggable factory, so the
 * benchmark can run against the real pool instead of the memory VFS (env DW_WEBDAV_VFS too).
 */
import type { Authenticator, Principal } from '../../vfs/index.js';
import { arg, openBenchVfs, stopOnSignal } from './launch-common.js';
import { startWebdavServer } from '../../protocols/webdav/index.js';

const user = arg('user', 'bench');
const password = arg('password', 'bench-pw');
const port = Number(arg('port', '0'));
const which = arg('vfs', process.env.DW_WEBDAV_VFS ?? 'memory');

const principal: Principal = { name: user, uid: 1000, gid: 1000, groups: [] };
const auth: Authenticator = {
  async checkPassword(u, p) { return u === user && p === password ? principal : null; },
  async checkPublicKey() { return null; },
};

const inst = await openBenchVfs(which, principal);
const srv = await startWebdavServer({ paths: inst.paths, auth, host: '127.0.0.1', port });
process.stdout.write(srv.url + '\n');
stopOnSignal(srv, inst);
