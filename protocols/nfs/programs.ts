/**
 * The two helper programs a v3 client talks to before NFS itself: the built-in PORTMAP v2 and
 * rpcbind v3/v4 (RFC 1833 sections 3 and 2; it knows only this server's programs) and
 * MOUNT v3 (RFC 1813 appendix I: NULL, MNT, DUMP, UMNT, UMNTALL, EXPORT). MNT resolves the
 * path inside the export it falls in (exports.ts) and answers that directory's file handle.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Vfs } from '../../vfs/types.js';
import { VfsError, Errno } from '../../vfs/errno.js';
import { mnt3Status } from './errors.js';
import { ExportTable, squashCtx } from './exports.js';
import { type CallInfo, hostOf, type Procedure, procNames, type Program } from './session.js';
import { encodeFh } from './wire/fh.js';
import { decodeDirpath, encodeExports, encodeMntResult, encodeMountList, MNT3, MOUNT_PROC, MOUNT_PROG, MOUNT_VERS, type MountEntry } from './wire/mount.js';
import { NFS_PROG, NFS_VERS } from './wire/nfs3.js';
import { NLM_PROG, NLM_VERS4 } from './wire/nlm.js';
import { SM_PROG, SM_VERS } from './wire/nsm.js';
import { NFS4_VERSION } from './wire/nfs4.js';
import {
  decodeMapping, decodeRpcb, encodeDumpResult, encodeGetportResult, encodeRpcbDumpResult, encodeUaddrResult, IPPROTO_TCP, IPPROTO_UDP,
  PMAP_PROC, PMAP_PROG, PMAP_VERS, RPCB_PROC, RPCB_VERS, RPCB_VERS4, type Mapping, type Rpcb, universalAddress,
} from './wire/portmap.js';
import { AUTH, type RpcCall } from './wire/rpc.js';
import { XdrWriter } from './wire/xdr.js';

const EMPTY = new Uint8Array(0);
const PMAP_NAME = procNames(PMAP_PROC);
const RPCB_NAME = procNames(RPCB_PROC);
const MOUNT_NAME = procNames(MOUNT_PROC);
export { ROOT_INO } from './exports.js';

/**
 * PORTMAP v2 and rpcbind v3 and v4 (RFC 1833) over the mappings `maps()` gives (read per call:
 * ports are known after listen). rpcbind answers universal addresses on the address the call
 * came to (CallInfo.local), or, when the transport does not know it (UDP on a wildcard address),
 * on loopback for a loopback caller and else on this host's first address of the caller's family.
 * SET and UNSET answer FALSE (this portmapper knows its own programs only).
 */
export function portmapProgram(maps: () => Mapping[]): Program {
  const rpcb: Partial<Record<number, Procedure>> = {
    [RPCB_PROC.NULL]: () => EMPTY,
    [RPCB_PROC.SET]: ({ call }) => refuse(call),
    [RPCB_PROC.UNSET]: ({ call }) => refuse(call),
    [RPCB_PROC.GETADDR]: (c) => getaddr(c, maps(), c.call.vers === RPCB_VERS4 ? 'any' : 'exact'),
    [RPCB_PROC.DUMP]: ({ call, local, peer }) => {
      call.args.end('DUMP arguments');
      const host = serverHost(local, peer);
      return encodeRpcbDumpResult(maps().map((m) => rpcbOf(m, host)));
    },
    [RPCB_PROC.GETTIME]: ({ call }) => {
      call.args.end('GETTIME arguments');
      return new XdrWriter(4).uint(Math.floor(Date.now() / 1000) >>> 0).bytes();
    },
  };
  return {
    name: 'portmap',
    procName: (v, p) => (v === PMAP_VERS ? PMAP_NAME(p) : RPCB_NAME(p)),
    versions: new Map([[RPCB_VERS, rpcb], [RPCB_VERS4, { ...rpcb, [RPCB_PROC.GETVERSADDR]: (c) => getaddr(c, maps(), 'exact') }], [PMAP_VERS, {
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

/** SET / UNSET of rpcbind: the argument checked, then FALSE. */
function refuse(call: RpcCall): Uint8Array {
  decodeRpcb(call.args);
  call.args.end('rpcb');
  return new XdrWriter(4).bool(false).bytes();
}

/**
 * rpcbind GETADDR (v3: the version asked; v4: that version, else any version of the program on
 * the transport — RFC 1833 2.2.1) and GETVERSADDR (exactly the version): the universal address,
 * "" when not registered. An empty r_netid means TCP.
 */
function getaddr({ call, local, peer }: CallInfo, maps: Mapping[], match: 'exact' | 'any'): Uint8Array {
  const q = decodeRpcb(call.args);
  call.args.end('rpcb');
  const host = serverHost(local, peer);
  const netid = q.netid || netidOf(IPPROTO_TCP, host);
  const onNet = maps.filter((m) => m.prog === q.prog && netidOf(m.prot, host) === netid);
  const hit = onNet.find((m) => m.vers === q.vers) ?? (match === 'any' ? onNet[0] : undefined);
  return encodeUaddrResult(hit ? universalAddress(host, hit.port) : '');
}

/** The rpcb entry of a mapping on `host`. */
function rpcbOf(m: Mapping, host: string): Rpcb {
  return { prog: m.prog, vers: m.vers, netid: netidOf(m.prot, host), addr: universalAddress(host, m.port), owner: 'superuser' };
}

/** 'tcp' / 'udp', with '6' for an IPv6 host (RFC 5665 netids). */
function netidOf(prot: number, host: string): string {
  return (prot === IPPROTO_UDP ? 'udp' : 'tcp') + (isIPv6(host) ? '6' : '');
}

/** The address this server is reached at by `peer` (see portmapProgram). */
function serverHost(local: string | undefined, peer: string): string {
  if (local) return local.startsWith('::ffff:') && isIPv4(local.slice(7)) ? local.slice(7) : local;
  const client = hostOf(peer).replace(/^::ffff:(?=\d+\.)/, '');
  const v6 = isIPv6(client);
  if (client === '127.0.0.1' || client === '::1' || client.startsWith('127.')) return v6 ? '::1' : '127.0.0.1';
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && (a.family === 'IPv6') === v6) return a.address;
  }
  return v6 ? '::1' : '127.0.0.1';
}

/**
 * This server's programs as portmap mappings: PORTMAP v2 / rpcbind v3 and v4, MOUNT v3 and NFS v3 on TCP; `nfs4` adds
 * NFS version 4, `locks` NLM v4 and NSM v1, all on the same port; `udp` adds PORTMAP and MOUNT
 * over UDP on that port number.
 */
export function mappings(port: number, with_: { locks?: boolean; nfs4?: boolean; udp?: boolean } = {}): Mapping[] {
  return [
    ...[PMAP_VERS, RPCB_VERS, RPCB_VERS4].map((vers) => ({ prog: PMAP_PROG, vers, prot: IPPROTO_TCP, port })),
    { prog: MOUNT_PROG, vers: MOUNT_VERS, prot: IPPROTO_TCP, port },
    { prog: NFS_PROG, vers: NFS_VERS, prot: IPPROTO_TCP, port },
    ...(with_.nfs4 ? [{ prog: NFS_PROG, vers: NFS4_VERSION, prot: IPPROTO_TCP, port }] : []),
    ...(with_.locks ? [{ prog: NLM_PROG, vers: NLM_VERS4, prot: IPPROTO_TCP, port }, { prog: SM_PROG, vers: SM_VERS, prot: IPPROTO_TCP, port }] : []),
    ...(with_.udp ? [...[PMAP_VERS, RPCB_VERS, RPCB_VERS4].map((vers) => ({ prog: PMAP_PROG, vers, prot: IPPROTO_UDP, port })), { prog: MOUNT_PROG, vers: MOUNT_VERS, prot: IPPROTO_UDP, port }] : []),
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
