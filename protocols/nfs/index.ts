/** NFS (issue 6): NFSv3, MOUNT v3 and a built-in PORTMAP v2 over ONC RPC on TCP, over the inode-level VFS. */
export { startNfsServer, type NfsServer, type NfsServerOptions } from './server.js';
export { Nfs3Service } from './nfs3.js';
export { Nfs4Service, type Nfs4Options } from './v4/service.js';
export { answer, type Programs } from './session.js';
export { ExportConfigError, ExportTable, parseExports, type Export, type Squash } from './exports.js';
export { NlmService, type NlmOptions } from './nlm.js';
export { NsmService, type NsmOptions } from './nsm.js';
export { GraceStore, type ClientRecord, type GraceOptions } from './grace.js';
