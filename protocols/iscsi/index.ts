/**
 * iSCSI target (issue 8, RFC 7143): block volumes as LUNs. See README.md in this folder.
 *
 *   const srv = await startIscsiServer({ host: '127.0.0.1', port: 3260, catalog, openTarget });
 *   ... srv.port ...
 *   await srv.close();
 *
 * `catalog` is read at each login (targets, LUNs, ACLs, CHAP); `openTarget` turns a target's
 * LUNs into the SCSI device layer's `TargetDevices` (protocols/iscsi/scsi/).
 */
export { startIscsiServer, type IscsiServer, type IscsiServerOptions, type OpenTarget } from './server.js';
export { Session, type SessionHost, type SessionOptions } from './session.js';
export { LoginMachine, PORTAL_GROUP_TAG, type LoginHost, type LoginOutcome } from './login.js';
export {
  canonicalName, chapError, initiatorAllowed, iscsiNameError, MAX_CHAP_SECRET, MAX_INITIATORS, MAX_LUNS, MIN_CHAP_SECRET, staticCatalog,
  type ChapCredentials, type TargetCatalog, type TargetConfig, type TargetLun,
} from './targets.js';
export type { LogicalUnit, Nexus, ScsiResult, ScsiTask, TargetDevices } from './device.js';
export { createTargetDevices, MemoryVolume } from './scsi/index.js';
