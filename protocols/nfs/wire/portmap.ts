/**
 * PORTMAP version 2 (RFC 1833 section 3): the arguments and results of NULL, GETPORT and DUMP.
 * SET, UNSET and CALLIT are not served (a built-in portmapper knows its own programs only).
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

/** DUMP result: pmaplist, a linked list of optional mappings. */
export function encodeDumpResult(maps: readonly Mapping[]): Buffer {
  const w = new XdrWriter(16 + maps.length * 20);
  for (const m of maps) {
    w.bool(true);
    encodeMapping(w, m);
  }
  return w.bool(false).bytes();
}

/** Longest DUMP list a decoder accepts. */
export const MAX_PMAP_LIST = 1024;

export function decodeDumpResult(r: XdrReader): Mapping[] {
  const out: Mapping[] = [];
  while (r.bool('pmaplist')) {
    if (out.length >= MAX_PMAP_LIST) throw new XdrError('pmaplist too long');
    out.push(decodeMapping(r));
  }
  return out;
}
