/**
 * WebDAV protocol server (RFC 4918 class 1 and 2) over the VFS path layer.
 * See README.md for what is supported, the status mapping and the limits.
 */
export { startWebdavServer, METHODS } from './server.js';
export type { WebdavServer, WebdavServerOptions } from './server.js';
export { ERRNO_TO_HTTP, statusOfErrno } from './errors.js';
