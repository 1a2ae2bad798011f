/**
 * The other protocols' side of the cross-protocol lock tests (nfs-nlm, smb-lock): a WebDAV LOCK
 * and UNLOCK with curl, and a python3 script that tries an fcntl lock on the FUSE mount.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ADDON_PATH } from '../../protocols/fuse/server.js';
import { curl, type Server } from './gateway-harness.js';

const LOCK_XML = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';

/** An exclusive WebDAV LOCK of `path`: the HTTP status and, when granted, the lock token. */
export function davLock(srv: Server, path: string): { status: string; token?: string } {
  const out = spawnSync('curl', ['-sS', '-u', `admin:${srv.password}`, '-X', 'LOCK', '-H', 'Content-Type: application/xml', '--data', LOCK_XML, '-D', '-', '-o', '/dev/null', '-w', '%{http_code}', new URL(path, srv.url).href], { encoding: 'utf8' }).stdout;
  const token = /Lock-Token: <([^>]+)>/i.exec(out)?.[1];
  return { status: out.slice(-3), ...(token ? { token } : {}) };
}

/** WebDAV UNLOCK: the HTTP status. */
export const davUnlock = (srv: Server, path: string, token: string): string =>
  curl(['-u', `admin:${srv.password}`, '-X', 'UNLOCK', '-H', `Lock-Token: <${token}>`, new URL(path, srv.url).href]).status;

/** Why the FUSE half cannot run here, or '' when it can. */
export const noFuse = !existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync(ADDON_PATH) ? 'the FUSE binding is not built' : process.getuid?.() !== 0 ? 'needs root' : '';

/** python3 SCRIPT FILE OFFSET LENGTH: tries an exclusive fcntl lock, prints "got" or "busy ERRNO". */
export const LOCK_PY = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, int(sys.argv[3]), int(sys.argv[2]))
    print('got')
except OSError as e:
    print('busy', e.errno)
`;
