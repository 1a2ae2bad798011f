/**
 * The two helper programs a v3 client talks to before NFS itself: the built-in PORTMAP v2
 * (RFC 1833 section 3: NULL, GETPORT, DUMP; it knows only this server's programs) and
 * MOUNT v3 (RFC 1813 appendix I: NULL, MNT, DUMP, UMNT, UMNTALL, EXPORT). MNT resolves the
 * path inside the export it falls in (exports.ts) and answers that directory's file handle.
 */
import type { Vfs } from '../../vfs/types.js';
import { VfsError, Errno } from '../../vfs/errno.js';
import { mnt3Status } from './errors.js';
import { ExportTable, squashCtx } from './exports.js';
import { hostOf, procNames, type Program } from './session.js';
import { encodeFh } from './wire/fh.js';
import { decodeDirpath, encodeExports, encodeMntResult, encodeMountList, MNT3, MOUNT_PROC, MOUNT_PROG, MOUNT_VERS, type MountEntry } from './wire/mount.js';
import { NFS_PROG, NFS_VERS } from './wire/nfs3.js';
import { NLM_PROG, NLM_VERS4 } from './wire/nlm.js';
import { SM_PROG, SM_VERS } from './wire/nsm.js';
import { NFS4_VERSION } from './wire/nfs4.js';
import { decodeMapping, encodeDumpResult, encodeGetportResult, IPPROTO_TCP, IPPROTO_UDP, PMAP_PROC, PMAP_PROG, PMAP_VERS, type Mapping } from './wire/portmap.js';
import { AUTH } from './wire/rpc.js';

const EMPTY = new Uint8Array(0);
const PMAP_NAME = procNames(PMAP_PROC);
const MOUNT_NAME = procNames(MOUNT_PROC);
export { ROOT_INO } from './exports.js';

/** PORTMAP v2 over the mappings `maps()` gives (read per call: ports are known after listen). */
export function portmapProgram(maps: () => Mapping[]): Program {
  return {
    name: 'portmap',
    procName: (_v, p) => PMAP_NAME(p),
    versions: new Map([[PMAP_VERS, {
      [PMAP_PROC.NULL]: () => EMPTY,
      [PMAP_PROC.GETPORT]: ({ call }) => {
        const m = decodeMapping(call.args);
        call.args.end('mapping');
        const hit = maps().find((x) => x.prog === m.prog && x.vers === m.vers && x.prot === m.prot);
        return encodeGetportResult(hit?.port ?? 0);
      },
      [PMAP_PROC.DUMP]: ({ call }) => {
        call.args.end('DUMP arguments');
        return encodeDumpResult(maps());
      },
    }]]),
  };
}

/**
 * This server's programs as portmap mappings: PORTMAP, MOUNT v3 and NFS v3 on TCP; `nfs4` adds
 * NFS version 4, `locks` NLM v4 and NSM v1, all on the same port; `udp` adds PORTMAP and MOUNT
 * over UDP on that port number.
 */
export function mappings(port: number, with_: { locks?: boolean; nfs4?: boolean; udp?: boolean } = {}): Mapping[] {
  return [
    { prog: PMAP_PROG, vers: PMAP_VERS, prot: IPPROTO_TCP, port },
    { prog: MOUNT_PROG, vers: MOUNT_VERS, prot: IPPROTO_TCP, port },
    { prog: NFS_PROG, vers: NFS_VERS, prot: IPPROTO_TCP, port },
    ...(with_.nfs4 ? [{ prog: NFS_PROG, vers: NFS4_VERSION, prot: IPPROTO_TCP, port }] : []),
    ...(with_.locks ? [{ prog: NLM_PROG, vers: NLM_VERS4, prot: IPPROTO_TCP, port }, { prog: SM_PROG, vers: SM_VERS, prot: IPPROTO_TCP, port }] : []),
    ...(with_.udp ? [{ prog: PMAP_PROG, vers: PMAP_VERS, prot: IPPROTO_UDP, port }, { prog: MOUNT_PROG, vers: MOUNT_VERS, prot: IPPROTO_UDP, port }] : []),
  ];
}

/**
 * MOUNT v3 over `vfs` and its exports (a number: the whole VFS as export of that id, to every
 * client). `mounts` is the DUMP list (kept in memory only). MNT finds the export the path falls
 * in (the longest exported prefix); a path outside every export, or an export the client's
 * address is not listed for, is MNT3ERR_ACCES.
 */
export function mountProgram(vfs: Vfs, exports: ExportTable | number, mounts: MountEntry[] = []): Program {
  const table = typeof exports === 'number' ? ExportTable.open(exports) : exports;
  return {
    name: 'mount',
    procName: (_v, p) => MOUNT_NAME(p),
    versions: new Map([[MOUNT_VERS, {
      [MOUNT_PROC.NULL]: () => EMPTY,
      [MOUNT_PROC.MNT]: async ({ call, ctx, peer }) => {
        const path = decodeDirpath(call.args);
        const host = hostOf(peer);
        try {
          const parts = path.split('/').filter((c) => c && c !== '.');
          if (parts.includes('..')) throw new VfsError(Errno.EINVAL, 'no ".." in a mount path');
          const e = table.forMount('/' + parts.join('/'));
          if (!e || !e.allows(host)) return encodeMntResult(MNT3.ERR_ACCES);
          const as = squashCtx(e, ctx, !call.sys);
          // Resolve inside the export, component by component, never above its directory.
          let attr = await vfs.getattr(as, table.root(e.id));
          for (const name of parts.slice(e.path.split('/').filter(Boolean).length)) attr = await vfs.lookup(as, attr.ino, name);
          if (attr.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
          if (!mounts.some((m) => m.hostname === host && m.directory === path)) {
            if (mounts.length >= 1024) mounts.shift();
            mounts.push({ hostname: host, directory: path });
          }
          return encodeMntResult(MNT3.OK, encodeFh({ exportId: e.id, ino: attr.ino, gen: attr.gen }), [AUTH.SYS, AUTH.NONE]);
        } catch (err) {
          return encodeMntResult(mnt3Status(err));
        }
      },
      [MOUNT_PROC.DUMP]: ({ call }) => {
        call.args.end('DUMP arguments');
        return encodeMountList(mounts);
      },
      [MOUNT_PROC.UMNT]: ({ call, peer }) => {
        const path = decodeDirpath(call.args);
        const i = mounts.findIndex((m) => m.hostname === hostOf(peer) && m.directory === path);
        if (i >= 0) mounts.splice(i, 1);
        return EMPTY;
      },
      [MOUNT_PROC.UMNTALL]: ({ call, peer }) => {
        call.args.end('UMNTALL arguments');
        for (let i = mounts.length - 1; i >= 0; i--) if (mounts[i]!.hostname === hostOf(peer)) mounts.splice(i, 1);
        return EMPTY;
      },
      [MOUNT_PROC.EXPORT]: ({ call }) => {
        call.args.end('EXPORT arguments');
        return encodeExports(table.list.map((e) => ({ dir: e.path, groups: e.clients })));
      },
    }]]),
  };
}
