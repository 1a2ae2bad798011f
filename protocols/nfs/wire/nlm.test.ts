/** NLM v4 and NSM v1 codecs: round trips, the limits of the spec, and fast-check fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeCancArgs, decodeLockArgs, decodeNotify, decodeRes, decodeShareArgs, decodeShareRes, decodeTestArgs, decodeTestRes, decodeUnlockArgs,
  encodeCancArgs, encodeLockArgs, encodeNotify, encodeRes, encodeShareArgs, encodeShareRes, encodeTestArgs, encodeTestRes, encodeUnlockArgs,
  NLM4, type Nlm4Lock,
} from './nlm.js';
import {
  decodeMon, decodeMonId, decodeMyId, decodeSmName, decodeSmStat, decodeStatChge, decodeStatRes, decodeStatus,
  encodeMon, encodeMonId, encodeMyId, encodeSmName, encodeSmStat, encodeStatChge, encodeStatRes, encodeStatus, SM_RES,
} from './nsm.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

const alock: Nlm4Lock = { callerName: 'client1', fh: Buffer.alloc(24, 7), oh: Buffer.from('1234@client1'), svid: 4321, offset: 2n ** 40n, len: 0n };
const cookie = Buffer.from([1, 2, 3, 4, 5]);
const R = (b: Buffer): XdrReader => new XdrReader(b);

/** Every codec: [encoded valid value, decoder]. */
const CODECS: [Buffer, (r: XdrReader) => unknown][] = [
  [encodeLockArgs({ cookie, block: true, exclusive: true, alock, reclaim: false, state: 3 }), decodeLockArgs],
  [encodeCancArgs({ cookie, block: false, exclusive: false, alock }), decodeCancArgs],
  [encodeTestArgs({ cookie, exclusive: true, alock }), decodeTestArgs],
  [encodeUnlockArgs({ cookie, alock }), decodeUnlockArgs],
  [encodeRes({ cookie, stat: NLM4.BLOCKED }), decodeRes],
  [encodeTestRes({ cookie, stat: NLM4.DENIED, holder: { exclusive: true, svid: -1, oh: Buffer.from('x'), offset: 5n, len: 2n ** 64n - 1n } }), decodeTestRes],
  [encodeShareArgs({ cookie, share: { callerName: 'c', fh: Buffer.alloc(24), oh: Buffer.from('o'), mode: 3, access: 1 }, reclaim: true }), decodeShareArgs],
  [encodeShareRes({ cookie, stat: NLM4.DENIED, sequence: 9 }), decodeShareRes],
  [encodeNotify({ name: 'client1', state: 5 }), decodeNotify],
  [encodeSmName('host'), decodeSmName],
  [encodeMon({ monId: { monName: 'client1', myId: { myName: 'localhost', prog: 100021, vers: 4, proc: 16 } }, priv: Buffer.alloc(16, 9) }), decodeMon],
  [encodeMonId({ monName: 'a', myId: { myName: 'b', prog: 1, vers: 2, proc: 3 } }), decodeMonId],
  [encodeMyId({ myName: 'b', prog: 1, vers: 2, proc: 3 }), decodeMyId],
  [encodeStatChge({ monName: 'client1', state: 7 }), decodeStatChge],
  [encodeStatus({ monName: 'client1', state: 7, priv: Buffer.alloc(16, 1) }), decodeStatus],
  [encodeStatRes(SM_RES.SUCC, 3), decodeStatRes],
  [encodeSmStat(3), decodeSmStat],
];

test('NLM v4: every argument and result round-trips, 64-bit offsets intact', () => {
  assert.deepEqual(decodeLockArgs(R(encodeLockArgs({ cookie, block: true, exclusive: true, alock, reclaim: true, state: 3 }))), { cookie, block: true, exclusive: true, alock, reclaim: true, state: 3 });
  assert.deepEqual(decodeTestArgs(R(encodeTestArgs({ cookie, exclusive: false, alock }))), { cookie, exclusive: false, alock });
  assert.deepEqual(decodeUnlockArgs(R(encodeUnlockArgs({ cookie, alock: { ...alock, len: 2n ** 64n - 1n } }))).alock.len, 2n ** 64n - 1n);
  assert.deepEqual(decodeCancArgs(R(encodeCancArgs({ cookie, block: true, exclusive: false, alock }))), { cookie, block: true, exclusive: false, alock });
  assert.deepEqual(decodeRes(R(encodeRes({ cookie, stat: NLM4.DENIED_GRACE_PERIOD }))), { cookie, stat: NLM4.DENIED_GRACE_PERIOD });
  assert.deepEqual(decodeTestRes(R(encodeTestRes({ cookie, stat: NLM4.GRANTED }))), { cookie, stat: NLM4.GRANTED });
  const h = { exclusive: false, svid: 12, oh: Buffer.from('oh'), offset: 0n, len: 100n };
  assert.deepEqual(decodeTestRes(R(encodeTestRes({ cookie, stat: NLM4.DENIED, holder: h }))), { cookie, stat: NLM4.DENIED, holder: h });
  assert.throws(() => encodeTestRes({ cookie, stat: NLM4.DENIED }), RangeError);
  const sh = { cookie, share: { callerName: 'c', fh: Buffer.alloc(24), oh: Buffer.from('o'), mode: 2, access: 3 }, reclaim: false };
  assert.deepEqual(decodeShareArgs(R(encodeShareArgs(sh))), sh);
  assert.deepEqual(decodeShareRes(R(encodeShareRes({ cookie, stat: NLM4.GRANTED, sequence: 1 }))), { cookie, stat: NLM4.GRANTED, sequence: 1 });
  assert.deepEqual(decodeNotify(R(encodeNotify({ name: 'n', state: -3 }))), { name: 'n', state: -3 });
});

test('NSM v1: every argument and result round-trips', () => {
  const mon = { monId: { monName: 'client1', myId: { myName: 'localhost', prog: 100021, vers: 4, proc: 16 } }, priv: Buffer.alloc(16, 9) };
  assert.deepEqual(decodeMon(R(encodeMon(mon))), mon);
  assert.deepEqual(decodeMonId(R(encodeMonId(mon.monId))), mon.monId);
  assert.deepEqual(decodeMyId(R(encodeMyId(mon.monId.myId))), mon.monId.myId);
  assert.equal(decodeSmName(R(encodeSmName('host'))), 'host');
  assert.deepEqual(decodeStatChge(R(encodeStatChge({ monName: 'x', state: 5 }))), { monName: 'x', state: 5 });
  assert.deepEqual(decodeStatus(R(encodeStatus({ monName: 'x', state: 5, priv: mon.priv }))), { monName: 'x', state: 5, priv: mon.priv });
  assert.deepEqual(decodeStatRes(R(encodeStatRes(SM_RES.FAIL, 9))), { res: SM_RES.FAIL, state: 9 });
  assert.equal(decodeSmStat(R(encodeSmStat(11))), 11);
});

test('limits: caller_name 1024, netobj 1024, fh 64, notify name 1025, enums, trailing bytes', () => {
  const ok = encodeLockArgs({ cookie: Buffer.alloc(1024), block: false, exclusive: false, alock: { ...alock, callerName: 'c'.repeat(1024), oh: Buffer.alloc(1024), fh: Buffer.alloc(64) }, reclaim: false, state: 0 });
  assert.equal(decodeLockArgs(R(ok)).alock.callerName.length, 1024);
  assert.throws(() => decodeLockArgs(R(encodeLockArgs({ cookie: Buffer.alloc(1025), block: false, exclusive: false, alock, reclaim: false, state: 0 }))), /cookie too long/);
  assert.throws(() => decodeTestArgs(R(encodeTestArgs({ cookie, exclusive: false, alock: { ...alock, callerName: 'c'.repeat(1025) } }))), /caller_name too long/);
  assert.throws(() => decodeTestArgs(R(encodeTestArgs({ cookie, exclusive: false, alock: { ...alock, fh: Buffer.alloc(65) } }))), /fh too long/);
  assert.throws(() => decodeUnlockArgs(R(encodeUnlockArgs({ cookie, alock: { ...alock, oh: Buffer.alloc(1025) } }))), /oh too long/);
  assert.equal(decodeNotify(R(encodeNotify({ name: 'n'.repeat(1025), state: 1 }))).name.length, 1025);
  assert.throws(() => decodeNotify(R(encodeNotify({ name: 'n'.repeat(1026), state: 1 }))), XdrError);
  assert.throws(() => decodeRes(R(new XdrWriter().opaque(cookie).int(10).bytes())), /nlm4_stats: bad value 10/);
  assert.throws(() => decodeShareArgs(R(encodeShareArgs({ cookie, share: { callerName: 'c', fh: Buffer.alloc(24), oh: Buffer.alloc(0), mode: 4, access: 0 }, reclaim: false }))), /fsh4_mode/);
  assert.throws(() => decodeRes(R(Buffer.concat([encodeRes({ cookie, stat: 0 }), Buffer.alloc(4)]))), /trailing/);
  assert.throws(() => decodeMon(R(encodeMon({ monId: { monName: 'x'.repeat(1025), myId: { myName: 'l', prog: 1, vers: 1, proc: 1 } }, priv: Buffer.alloc(16) }))), /too long/);
});

test('fuzz: random bytes and mutated valid encodings decode to a value or an XdrError', () => {
  const only = (f: () => unknown): void => {
    try {
      f();
    } catch (err) {
      if (!(err instanceof XdrError)) throw err;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
    for (const [, dec] of CODECS) only(() => dec(R(Buffer.from(b))));
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.integer({ min: 0, max: CODECS.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), (i, flips, cut) => {
    const [valid, dec] = CODECS[i]!;
    const b = Buffer.from(valid);
    for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
    only(() => dec(R(b)));
    only(() => dec(R(b.subarray(0, cut % (b.length + 1)))));
  }), { numRuns: 1000 });
});
