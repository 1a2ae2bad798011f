/**
 * SMB2/3 (issue 7), first slice: NEGOTIATE (2.0.2 … 3.1.1), SESSION_SETUP with SPNEGO + NTLMv2
 * against the gateway's users, signing and encryption, TREE_CONNECT/TREE_DISCONNECT, LOGOFF,
 * ECHO; named pipes on IPC$ with srvsvc, so `smbclient -L` lists the shares. No file access
 * yet: CREATE and every file command on a disk share answer STATUS_NOT_SUPPORTED.
 * See README.md in this folder.
 *
 *   const srv = await startSmbServer({ host: '127.0.0.1', port: 0, lookup, shares });
 *   ... srv.port ...
 *   await srv.close();
 */
export { startSmbServer, type SmbServer, type SmbServerOptions } from './server.js';
export { SmbConnection, type ConnectionOptions, type FrameOutput } from './session.js';
export { type AccountLookup, type SmbAccount } from './setup.js';
export { checkServerName, DEFAULT_SHARES, IPC_SHARE, parseShares, ShareConfigError, type SmbShare } from './shares.js';
export { FrameDecoder, FrameError, frameHeader } from './transport.js';
export { ntHash } from './auth/ntlm.js';
export { ERRNO_TO_NTSTATUS, STATUS } from './errors.js';
