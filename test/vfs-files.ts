/**
 * Whole-file helpers over a VFS instance for tests (by path, as root): the inode number of a
 * path, a write at an offset (creating and truncating by default), and a read of everything.
 */
import { ROOT_CTX, type VfsInstance } from '../vfs/index.js';

export function fileOps(vfs: () => VfsInstance) {
  return {
    ino: async (path: string) => (await vfs().paths.lstat(ROOT_CTX, path)).ino,
    write: async (path: string, data: Buffer, offset = 0, create = true) => {
      const v = vfs();
      const { fh } = await v.paths.open(ROOT_CTX, path, { write: true, create, truncate: create && offset === 0 });
      await v.vfs.write(ROOT_CTX, fh, offset, data);
      await v.vfs.release(ROOT_CTX, fh);
    },
    read: async (path: string) => {
      const v = vfs();
      const { fh, attr } = await v.paths.open(ROOT_CTX, path, { read: true });
      const b = await v.vfs.read(ROOT_CTX, fh, 0, attr.size + 1);
      await v.vfs.release(ROOT_CTX, fh);
      return b;
    },
  };
}
