/** FUSE: the namespace mounted as a local folder (issue 4), over the inode-level VFS. */
export { clearStaleMount, loadBinding, mountFuse, type FuseMount, type FuseMountOptions } from './server.js';
export { FuseSession, type Replier } from './session.js';
