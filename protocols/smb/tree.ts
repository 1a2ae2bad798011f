/**
 * TREE_CONNECT (MS-SMB2 3.3.5.7), TREE_DISCONNECT (3.3.5.8), LOGOFF (3.3.5.6) and ECHO
 * (3.3.5.17) handlers.
 */
import { STATUS, SmbStatusError } from './errors.js';
import { HDR_FLAGS } from './wire/header.js';
import { isSmb3 } from './wire/negotiate.js';
import {
  decodeEmptyBody, decodeTreeConnectRequest, SHARE_FLAG, SHARE_TYPE, writeEmptyBody, writeTreeConnectResponse,
} from './wire/session-setup.js';
import type { Request, Response, SmbConnection } from './session.js';
import { IPC_SHARE } from './shares.js';
import { closeAll } from './files.js';
import { detachDurable } from './durable.js';

/** Most tree connects per session. */
export const MAX_TREES = 1024;
/** FILE_ALL_ACCESS and FILE_GENERIC_READ | FILE_GENERIC_EXECUTE (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1.1). */
export const ACCESS = { ALL: 0x001f01ff, READ: 0x001200a9 } as const;

const empty = (status = STATUS.SUCCESS): Response => ({ status, body: (w) => { writeEmptyBody(w); } });

/**
 * TREE_CONNECT: \\server\share, the server part ignored, the share name matched without
 * regard to case; IPC$ is a pipe share. Unknown share → STATUS_BAD_NETWORK_NAME. A share that
 * requires encryption refuses (STATUS_ACCESS_DENIED, 3.3.5.7) a connection that cannot encrypt
 * (below 3.0, or no common cipher) and otherwise answers SHARE_FLAG_ENCRYPT_DATA: later
 * requests on the tree must then arrive encrypted. STATUS_INSUFFICIENT_RESOURCES past MAX_TREES.
 */
export function handleTreeConnect(c: SmbConnection, q: Request): Response {
  const s = q.session!;
  const req = decodeTreeConnectRequest(q.message);
  const isIpc = req.share.toUpperCase() === IPC_SHARE;
  const share = isIpc ? undefined : c.opts.shares.find((x) => x.name.toUpperCase() === req.share.toUpperCase());
  if (!isIpc && !share) {
    c.log?.info({ peer: c.opts.peer, share: req.share }, 'smb: tree connect to an unknown share');
    throw new SmbStatusError(STATUS.BAD_NETWORK_NAME);
  }
  const encryptData = share?.requireEncryption ?? false;
  if (encryptData && (!isSmb3(c.dialect!) || c.cipher === 0)) {
    c.log?.info({ peer: c.opts.peer, share: req.share, dialect: c.dialect!.toString(16) }, 'smb: share requires encryption, the connection cannot encrypt');
    throw new SmbStatusError(STATUS.ACCESS_DENIED);
  }
  if (s.trees.size >= MAX_TREES) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
  const treeId = s.allocTreeId();
  const maximalAccess = share?.readOnly ? ACCESS.READ : ACCESS.ALL;
  s.trees.set(treeId, { treeId, share, isIpc, encryptData, maximalAccess });
  c.log?.info({ peer: c.opts.peer, user: s.principal?.name, share: share?.name ?? IPC_SHARE, treeId, signed: (q.header.flags & HDR_FLAGS.SIGNED) !== 0, encrypted: q.encrypted }, 'smb: tree connect');
  return {
    status: STATUS.SUCCESS, treeId,
    body: (w) => {
      writeTreeConnectResponse(w, {
        shareType: isIpc ? SHARE_TYPE.PIPE : SHARE_TYPE.DISK,
        shareFlags: (isIpc ? SHARE_FLAG.NO_CACHING : SHARE_FLAG.MANUAL_CACHING) | (encryptData ? SHARE_FLAG.ENCRYPT_DATA : 0),
        capabilities: 0, maximalAccess,
      });
    },
  };
}

/** TREE_DISCONNECT: the tree (already verified) is removed. */
export async function handleTreeDisconnect(c: SmbConnection, q: Request): Promise<Response> {
  decodeEmptyBody(q.message, 'TREE_DISCONNECT request');
  const sid = q.session!.id, tid = q.tree!.treeId;
  await closeAll(c, (o) => o.sessionId === sid && o.treeId === tid);
  q.session!.trees.delete(q.tree!.treeId);
  return empty();
}

/** LOGOFF: the session and its trees are removed; the response is still signed/encrypted with its keys. */
export async function handleLogoff(c: SmbConnection, q: Request): Promise<Response> {
  decodeEmptyBody(q.message, 'LOGOFF request');
  const s = q.session!;
  // Durable opens that still cache their handle outlive the session, as after a disconnect: a
  // new session (on this connection or another) reclaims them (Windows and Samba;
  // smbtorture smb2.durable-open.reopen4). The rest close.
  detachDurable(c, (o) => o.sessionId === s.id);
  await closeAll(c, (o) => o.sessionId === s.id);
  s.trees.clear();
  c.sessions.delete(s.id);
  c.log?.debug({ peer: c.opts.peer, user: s.principal?.name }, 'smb: logoff');
  return empty();
}

/** ECHO: an empty answer. */
export function handleEcho(_c: SmbConnection, q: Request): Response {
  decodeEmptyBody(q.message, 'ECHO request');
  return empty();
}
