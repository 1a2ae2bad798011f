/**
 * SFTP version 3 constants (draft-ietf-secsh-filexfer-02, sections 3, 5, 6.3, 7) and the limits
 * this server enforces on the wire. Names follow the draft (SSH_FXP_*, SSH_FX_*, SSH_FXF_*,
 * SSH_FILEXFER_ATTR_*).
 */

/** The protocol version this server speaks (draft-02 = version 3). */
export const SFTP_VERSION = 3;

/** Packet types (draft-02 section 3). */
export const SSH_FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** Status codes of SSH_FXP_STATUS (draft-02 section 7). */
export const SSH_FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type SshFxCode = (typeof SSH_FX)[keyof typeof SSH_FX];

/** pflags of SSH_FXP_OPEN (draft-02 section 6.3). */
export const SSH_FXF = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

/** Flag bits of the ATTRS structure (draft-02 section 5). */
export const SSH_FILEXFER_ATTR = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000,
} as const;

/** f_flag bits of the statvfs@openssh.com reply (OpenSSH PROTOCOL, section 4.4). */
export const SSH_FXE_STATVFS = { ST_RDONLY: 0x1, ST_NOSUID: 0x2 } as const;

/**
 * Largest SFTP packet accepted or sent, bytes, excluding the 4-byte length field. OpenSSH's
 * client and server use the same 256 KiB limit (SFTP_MAX_MSG_LENGTH); bigger packets close the channel.
 */
export const MAX_PACKET = 256 * 1024;
/** Largest READ answered (bytes); larger requests are served short, as the draft allows. Leaves room for the DATA header. */
export const MAX_READ = MAX_PACKET - 1024;
/** Largest WRITE payload we advertise in limits@openssh.com (bytes). */
export const MAX_WRITE = MAX_PACKET - 1024;
/** Handles are at most 256 bytes (draft-02 section 6.2); ours are 4. */
export const MAX_HANDLE = 256;
/** Longest path or symlink target string accepted on the wire, bytes (the VFS limits paths to 4096). */
export const MAX_PATH = 8192;
/** Longest extension or extended-attribute name, bytes. */
export const MAX_NAME = 1024;
/** Longest extension data string in INIT, or extended-attribute value in ATTRS, bytes. */
export const MAX_EXT_DATA = 64 * 1024;
/** Most extension pairs accepted in INIT or in one ATTRS. */
export const MAX_EXT_PAIRS = 64;
