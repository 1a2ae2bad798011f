/**
 * PORTMAP version 2 (RFC 1833 section 3): the arguments and results of NULL, GETPORT and DUMP;
 * and rpcbind versions 3 and 4 (section 2, the same program number): NULL, SET/UNSET (answered
 * FALSE), GETADDR, DUMP, GETTIME, and v4's GETVERSADDR. CALLIT/BCAST, INDIRECT, the address
 * conversions, GETADDRLIST and GETSTAT are not served (a built-in portmapper knows its own
 * programs only and forwards nothing).
 */
import { XdrError, type XdrReader, XdrWriter } from './xdr.js';

export const PMAP_PROG = 100000;
export const PMAP_VERS = 2;
export const PMAP_PROC = { NULL: 0, SET: 1, UNSET: 2, GETPORT: 3, DUMP: 4, CALLIT: 5 } as const;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** struct mapping (section 3). */
export interface Mapping {
  prog: number;
  vers: number;
  prot: number;
  port: number;
}

export function decodeMapping(r: XdrReader): Mapping {
  return { prog: r.uint('prog'), vers: r.uint('vers'), prot: r.uint('prot'), port: r.uint('port') };
}

export function encodeMapping(w: XdrWriter, m: Mapping): void {
  w.uint(m.prog).uint(m.vers).uint(m.prot).uint(m.port);
}

/** GETPORT result: the port, 0 when the program is not registered. */
export function encodeGetportResult(port: number): Buffer {
  return new XdrWriter(4).uint(port).bytes();
}

/** An XDR linked list (`*next` optional entries, as pmaplist and rpcblist): each item after TRUE, then FALSE. */
function encodeList<T>(items: readonly T[], each: (w: XdrWriter, item: T) => void, perItem: number): Buffer {
  const w = new XdrWriter(16 + items.length * perItem);
  for (const m of items) {
    w.bool(true);
    each(w, m);
  }
  return w.bool(false).bytes();
}

/** Longest DUMP list a decoder accepts. */
export const MAX_PMAP_LIST = 1024;

/** Decodes an XDR linked list of at most MAX_PMAP_LIST items; XdrError past that or on short input. */
function decodeList<T>(r: XdrReader, each: (r: XdrReader) => T, what: string): T[] {
  const out: T[] = [];
  while (r.bool(what)) {
    if (out.length >= MAX_PMAP_LIST) throw new XdrError(`${what} too long`);
    out.push(each(r));
  }
  return out;
}

/** DUMP result: pmaplist, a linked list of optional mappings. */
export function encodeDumpResult(maps: readonly Mapping[]): Buffer {
  return encodeList(maps, encodeMapping, 20);
}

export function decodeDumpResult(r: XdrReader): Mapping[] {
  return decodeList(r, decodeMapping, 'pmaplist');
}

/** rpcbind protocol versions 3 and 4 (RFC 1833 section 2). */
export const RPCB_VERS = 3;
export const RPCB_VERS4 = 4;
export const RPCB_PROC = {
  NULL: 0, SET: 1, UNSET: 2, GETADDR: 3, DUMP: 4, CALLIT: 5, GETTIME: 6, UADDR2TADDR: 7, TADDR2UADDR: 8,
  GETVERSADDR: 9, INDIRECT: 10, GETADDRLIST: 11, GETSTAT: 12,
} as const;

/** Longest r_netid, r_addr and r_owner a decoder accepts (the RFC leaves them unbounded; real ones are short). */
export const MAX_RPCB_STRING = 255;

/** struct rpcb (section 2.1): a (program, version, network id) and its universal address. */
export interface Rpcb {
  prog: number;
  vers: number;
  /** Network id: 'tcp', 'udp', 'tcp6', 'udp6'. */
  netid: string;
  /** Universal address: IPv4 "h1.h2.h3.h4.p1.p2", IPv6 "x:…:y.p1.p2" (port = p1 * 256 + p2). */
  addr: string;
  owner: string;
}

export function decodeRpcb(r: XdrReader): Rpcb {
  return {
    prog: r.uint('r_prog'), vers: r.uint('r_vers'),
    netid: r.string(MAX_RPCB_STRING, 'r_netid'), addr: r.string(MAX_RPCB_STRING, 'r_addr'), owner: r.string(MAX_RPCB_STRING, 'r_owner'),
  };
}

export function encodeRpcb(w: XdrWriter, m: Rpcb): void {
  w.uint(m.prog).uint(m.vers).string(m.netid).string(m.addr).string(m.owner);
}

/** GETADDR / GETVERSADDR result: the universal address, "" when nothing matches. */
export function encodeUaddrResult(addr: string): Buffer {
  return new XdrWriter(8 + addr.length).string(addr).bytes();
}

/** DUMP result (rpcblist_ptr): a linked list of optional rpcb entries. */
export function encodeRpcbDumpResult(list: readonly Rpcb[]): Buffer {
  return encodeList(list, encodeRpcb, 48);
}

export function decodeRpcbDumpResult(r: XdrReader): Rpcb[] {
  return decodeList(r, decodeRpcb, 'rpcblist');
}

/**
 * The universal address of host:port (RFC 1833 section 2.1, RFC 5665 section 5.2.3): the
 * address's text form, then the port's two bytes as decimal numbers, dot separated.
 */
export function universalAddress(host: string, port: number): string {
  return `${host}.${(port >> 8) & 0xff}.${port & 0xff}`;
}

/** host and port of a universal address; undefined if it is not one. */
export function parseUniversalAddress(uaddr: string): { host: string; port: number } | undefined {
  const m = /^(.+)\.(\d{1,3})\.(\d{1,3})$/.exec(uaddr);
  if (!m || Number(m[2]) > 255 || Number(m[3]) > 255) return undefined;
  return { host: m[1]!, port: Number(m[2]) * 256 + Number(m[3]) };
}
