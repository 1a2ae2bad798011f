/**
 * Starts the SFTP server for benchmarks and manual tests; prints its port on stdout, stops on
 * SIGTERM/SIGINT.
 *   tsx scripts/bench/sftp-server.ts [--port N] [--user U] [--password P] [--authorized-key FILE.pub]
 *                                    [--host-key FILE] [--vfs memory|MODULE]
 * --vfs MODULE: a module whose default export (or `createVfs`) is
 *   `() => Promise<{ paths: PathVfs; close(): Promise<void> }>` — the pluggable factory, so the
 * benchmark can run against the real pool instead of the memory VFS (env DW_SFTP_VFS too).
 */
import { readFileSync } from 'node:fs';
import type { Authenticator, Principal } from '../../vfs/index.js';
import { arg, openBenchVfs, stopOnSignal } from './launch-common.js';
import { generateHostKey, startSftpServer } from '../../protocols/sftp/index.js';

const user = arg('user', 'bench');
const password = arg('password', 'bench-pw');
const port = Number(arg('port', '0'));
const keyFile = arg('authorized-key', '');
const hostKeyFile = arg('host-key', '');
const which = arg('vfs', process.env.DW_SFTP_VFS ?? 'memory');

// the key blob of an OpenSSH public key line: "ssh-ed25519 AAAA... comment"
const keyBlob = keyFile ? Buffer.from(readFileSync(keyFile, 'utf8').trim().split(/\s+/)[1] ?? '', 'base64') : null;
const principal: Principal = { name: user, uid: 1000, gid: 1000, groups: [] };
const auth: Authenticator = {
  async checkPassword(u, p) { return u === user && p === password ? principal : null; },
  async checkPublicKey(u, _algo, key) { return u === user && keyBlob !== null && key.equals(keyBlob) ? principal : null; },
};

const inst = await openBenchVfs(which, principal);
const hostKeys = [hostKeyFile ? readFileSync(hostKeyFile) : generateHostKey()];
const srv = await startSftpServer({ paths: inst.paths, auth, host: '127.0.0.1', port, hostKeys });
process.stdout.write(`${srv.port}\n`);
stopOnSignal(srv, inst);
