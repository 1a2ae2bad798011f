/**
 * An independent NDR 2.0 reader for the srvsvc [out] stubs (C706 14.2 alignment, 14.3.4.2
 * conformant varying strings, 14.3.12 deferred referents; MS-SRVS 2.2.4 structures), written
 * from the specs and sharing no code with rpc/ndr.ts, and `joinResponse` for RESPONSE
 * fragments. Tests only (rpc/rpc.test.ts checks it against smbd's own answers first).
 */
import assert from 'node:assert/strict';
import { decodeResponse, PFC } from '../rpc/dcerpc.js';
// An independent NDR 2.0 reader for the srvsvc [out] stubs (C706 14.2 alignment, 14.3.4.2
// conformant varying strings, 14.3.12 deferred referents; MS-SRVS 2.2.4 structures).

export class Cur {
  off = 0;
  constructor(readonly b: Buffer) {}
  u32(): number {
    this.off = (this.off + 3) & ~3;
    if (this.off + 4 > this.b.length) throw new Error(`test decoder: overrun at ${this.off}`);
    const v = this.b.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  str(): string {
    const max = this.u32(), offset = this.u32(), actual = this.u32();
    assert.equal(offset, 0);
    assert.ok(actual <= max);
    const s = this.b.toString('utf16le', this.off, this.off + actual * 2);
    this.off += actual * 2;
    assert.equal(s.at(-1), '\0', 'strings are NUL-terminated');
    return s.slice(0, -1);
  }
  end(): void {
    assert.equal(this.off, this.b.length, 'whole stub consumed');
  }
}

export interface Share { name: string; type?: number; remark?: string; permissions?: number; maxUses?: number; currentUses?: number; path?: string | null; passwd?: string | null; flags?: number }

/** Fixed part of SHARE_INFO_<level>: string pointers become "deferred" markers filled afterwards in order. */
export function shareFixed(c: Cur, level: number): { share: Share; strings: (keyof Share)[] } {
  const share: Share = { name: '' };
  const strings: (keyof Share)[] = [];
  const p = (k: keyof Share): void => {
    if (c.u32() !== 0) strings.push(k);
    else (share as unknown as Record<string, unknown>)[k] = null;
  };
  if (level === 1005) {
    share.flags = c.u32();
    return { share, strings };
  }
  p('name');
  if (level === 0) return { share, strings };
  share.type = c.u32();
  p('remark');
  if (level === 501) share.flags = c.u32();
  if (level === 2) {
    share.permissions = c.u32();
    share.maxUses = c.u32();
    share.currentUses = c.u32();
    p('path');
    p('passwd');
  }
  return { share, strings };
}

export function fillStrings(c: Cur, items: { share: Share; strings: (keyof Share)[] }[]): Share[] {
  for (const it of items) for (const k of it.strings) (it.share as unknown as Record<string, unknown>)[k] = c.str();
  return items.map((it) => it.share);
}

/** NetrShareEnum [out]: SHARE_ENUM_STRUCT, TotalEntries, ResumeHandle, WERROR. */
export function readShareEnumOut(stub: Buffer): { level: number; shares: Share[] | null; total: number; resume: number | null; werr: number } {
  const c = new Cur(stub);
  const level = c.u32();
  assert.equal(c.u32(), level, 'union switch');
  let shares: Share[] | null = null;
  if (c.u32() !== 0) {
    const count = c.u32();
    if (c.u32() !== 0) {
      assert.equal(c.u32(), count, 'conformant max count = EntriesRead');
      const items = Array.from({ length: count }, () => shareFixed(c, level));
      shares = fillStrings(c, items);
    } else assert.equal(count, 0);
  }
  const total = c.u32();
  const resume = c.u32() !== 0 ? c.u32() : null;
  const werr = c.u32();
  c.end();
  return { level, shares, total, resume, werr };
}

/** NetrShareGetInfo [out]: LPSHARE_INFO (switch, pointer), WERROR. */
export function readShareGetInfoOut(stub: Buffer): { level: number; share: Share | null; werr: number } {
  const c = new Cur(stub);
  const level = c.u32();
  let share: Share | null = null;
  if (stub.length > 8 && c.u32() !== 0) share = fillStrings(c, [shareFixed(c, level)])[0]!;
  const werr = c.u32();
  c.end();
  return { level, share, werr };
}

/** NetrServerGetInfo [out]: LPSERVER_INFO (switch, pointer → SERVER_INFO_100/101), WERROR. */
export function readServerGetInfoOut(stub: Buffer): { level: number; info: Record<string, unknown> | null; werr: number } {
  const c = new Cur(stub);
  const level = c.u32();
  let info: Record<string, unknown> | null = null;
  if (c.u32() !== 0) {
    info = { platform: c.u32() };
    const hasName = c.u32() !== 0;
    let hasComment = false;
    if (level === 101) {
      info.major = c.u32();
      info.minor = c.u32();
      info.type = c.u32();
      hasComment = c.u32() !== 0;
    }
    if (hasName) info.name = c.str();
    if (hasComment) info.comment = c.str();
  }
  const werr = c.u32();
  c.end();
  return { level, info, werr };
}

/** RESPONSE fragments → one stub, checking flags, call id and alloc_hint (C706 12.6.4.10). */
export function joinResponse(pdus: Buffer[], callId: number, maxFrag = 4280): Buffer {
  assert.ok(pdus.length >= 1);
  const parts: Buffer[] = [];
  let total = 0;
  pdus.forEach((p, i) => {
    const r = decodeResponse(p);
    assert.ok(p.length <= maxFrag, `fragment ${p.length} > ${maxFrag}`);
    assert.equal(r.header.callId, callId);
    assert.equal(Boolean(r.header.flags & PFC.FIRST_FRAG), i === 0);
    assert.equal(Boolean(r.header.flags & PFC.LAST_FRAG), i === pdus.length - 1);
    if (i < pdus.length - 1) assert.equal(r.stub.length % 8, 0);
    parts.push(r.stub);
    total += r.stub.length;
  });
  assert.equal(decodeResponse(pdus[0]!).allocHint, total);
  return Buffer.concat(parts);
}

