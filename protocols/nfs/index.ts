/** NFS (issue 6): NFSv3 with MOUNT v3, NLM v4 and NSM, NFSv4.0/4.1, and a built-in portmapper (PORTMAP v2, rpcbind v3/v4), over ONC RPC (TCP; UDP for PORTMAP and MOUNT), over the inode-level VFS. */
export { startNfsServer, type NfsServer, type NfsServerOptions } from './server.js';
export { Nfs3Service } from './nfs3.js';
export { Nfs4Service, type Nfs4Options, type OpRecord } from './v4/service.js';
export { answer, type CallOutcome, type CallRecord, type Programs } from './session.js';
export { ExportConfigError, ExportTable, parseExports, type Export, type Squash } from './exports.js';
export { NlmService, type NlmOptions } from './nlm.js';
export { NsmService, type NsmOptions } from './nsm.js';
export { GraceStore, type ClientRecord, type GraceOptions } from './grace.js';
