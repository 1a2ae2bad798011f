/**
 * Our NFS file handle (opaque to clients, RFC 1813 section 2.5 nfs_fh3 ≤ 64 bytes), a fixed
 * 24-byte layout that holds no server state, so it stays valid across restarts:
 *
 *   byte 0      version (1)
 *   bytes 1-3   zero
 *   bytes 4-7   export id (uint32)
 *   bytes 8-15  inode number (uint64)
 *   bytes 16-23 generation (uint64; the VFS's are below 2^31)
 *
 * A handle of another length or version is NFS3ERR_BADHANDLE; a gone inode or a changed
 * generation is NFS3ERR_STALE (the VFS's ESTALE).
 */
export const FH_VERSION = 1;
export const FH_LENGTH = 24;

export interface FileHandle {
  exportId: number;
  ino: number;
  gen: number;
}

export function encodeFh(h: FileHandle): Buffer {
  const b = Buffer.alloc(FH_LENGTH);
  b[0] = FH_VERSION;
  b.writeUInt32BE(h.exportId >>> 0, 4);
  b.writeBigUInt64BE(BigInt(h.ino), 8);
  b.writeBigUInt64BE(BigInt(h.gen), 16);
  return b;
}

/** The handle's fields, or undefined when it is not one of ours. */
export function decodeFh(b: Uint8Array): FileHandle | undefined {
  if (b.length !== FH_LENGTH || b[0] !== FH_VERSION || b[1] || b[2] || b[3]) return undefined;
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  const ino = v.readBigUInt64BE(8), gen = v.readBigUInt64BE(16);
  if (ino > BigInt(Number.MAX_SAFE_INTEGER) || gen > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { exportId: v.readUInt32BE(4), ino: Number(ino), gen: Number(gen) };
}
