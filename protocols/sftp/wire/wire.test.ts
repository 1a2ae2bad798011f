/**
 * Property tests of the SFTP wire layer (fast-check): the bounds-checked reader, packet
 * framing, request/extension/reply codecs and ATTRS. Decoders given arbitrary bytes must either
 * decode or throw WireError, never anything else and never read past their input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readAttrs, writeAttrs, type FileAttrs } from './attrs.js';
import { MAX_HANDLE, MAX_PACKET, SSH_FXP } from './constants.js';
import { decodeExtended, encodeExtended, EXTENDED_DECODERS, type ExtendedName } from './extended.js';
import { FramingError, PacketFramer } from './framer.js';
import { longname, lsDate, modeString } from './longname.js';
import { Reader, WireError } from './reader.js';
import {
  decodeReply, encodeAttrs, encodeData, encodeHandle, encodeLimitsReply, encodeName, encodeStatVfsReply, encodeStatus, encodeVersion,
} from './replies.js';
import { decodeInit, encodeInit, encodeRequest, REQUEST_DECODERS, type RequestBodies, type RequestType } from './requests.js';
import { Writer } from './writer.js';

const RUNS = { numRuns: 300 };

/** fc.record with ordinary prototypes, so deepStrictEqual compares values only. */
function rec<T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }, opts: { requiredKeys?: [] } = {}): fc.Arbitrary<T> {
  return fc.record(shape, { ...opts, noNullPrototype: true }) as unknown as fc.Arbitrary<T>;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const handle = bytes(MAX_HANDLE);

const attrsArb: fc.Arbitrary<FileAttrs> = rec(
  {
    size: u64,
    uid: u32,
    gid: u32,
    permissions: u32,
    atime: u32,
    mtime: u32,
    extended: fc.array(fc.tuple(text, bytes(32)), { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: [] },
).map((a) => {
  // uid/gid and atime/mtime travel in pairs (draft-02 section 5)
  const out: FileAttrs = { ...a };
  if (out.uid === undefined || out.gid === undefined) { delete out.uid; delete out.gid; }
  if (out.atime === undefined || out.mtime === undefined) { delete out.atime; delete out.mtime; }
  return out;
});

const bodyArbs: { [K in RequestType]: fc.Arbitrary<RequestBodies[K]> } = {
  [SSH_FXP.OPEN]: rec({ filename: text, pflags: u32, attrs: attrsArb }),
  [SSH_FXP.CLOSE]: rec({ handle }),
  [SSH_FXP.READ]: rec({ handle, offset: u64, len: u32 }),
  [SSH_FXP.WRITE]: rec({ handle, offset: u64, data: bytes(2000) }),
  [SSH_FXP.LSTAT]: rec({ path: text }),
  [SSH_FXP.FSTAT]: rec({ handle }),
  [SSH_FXP.SETSTAT]: rec({ path: text, attrs: attrsArb }),
  [SSH_FXP.FSETSTAT]: rec({ handle, attrs: attrsArb }),
  [SSH_FXP.OPENDIR]: rec({ path: text }),
  [SSH_FXP.READDIR]: rec({ handle }),
  [SSH_FXP.REMOVE]: rec({ path: text }),
  [SSH_FXP.MKDIR]: rec({ path: text, attrs: attrsArb }),
  [SSH_FXP.RMDIR]: rec({ path: text }),
  [SSH_FXP.REALPATH]: rec({ path: text }),
  [SSH_FXP.STAT]: rec({ path: text }),
  [SSH_FXP.RENAME]: rec({ oldpath: text, newpath: text }),
  [SSH_FXP.READLINK]: rec({ path: text }),
  [SSH_FXP.SYMLINK]: rec({ first: text, second: text }),
  [SSH_FXP.EXTENDED]: rec({ request: text, data: bytes(200) }),
};
const TYPES = Object.keys(bodyArbs).map(Number) as RequestType[];

const requestArb = fc.constantFrom(...TYPES).chain((type) =>
  fc.tuple(fc.constant(type), u32, bodyArbs[type] as fc.Arbitrary<RequestBodies[RequestType]>));

/** Runs `f`, which must return or throw WireError (anything else fails the property). */
function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
}

describe('Reader', () => {
  test('reads exactly what Writer wrote; lengths over the max throw WireError', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), u32, u64, bytes(300), text, (b, n, big, raw, s) => {
      const w = new Writer(8).u8(b).u32(n).u64(big).string(raw).string(s);
      const r = new Reader(w.body());
      assert.equal(r.u8(), b);
      assert.equal(r.u32(), n);
      assert.equal(r.u64(), big);
      assert.deepEqual(r.bytes(300), raw);
      assert.equal(r.utf8(1000), s);
      assert.equal(r.remaining(), 0);
      assert.throws(() => r.u8(), WireError);
      if (raw.length > 0) assert.throws(() => new Reader(new Writer().string(raw).body()).bytes(raw.length - 1), WireError);
    }), RUNS);
  });

  test('never reads outside its window, whatever the bytes and the calls', () => {
    const call = fc.constantFrom('u8', 'u32', 'u64', 'bytes', 'utf8', 'rest');
    fc.assert(fc.property(bytes(64), fc.nat(8), fc.array(call, { maxLength: 12 }), (buf, cut, calls) => {
      const end = Math.max(0, buf.length - cut);
      const r = new Reader(buf, 0, end);
      onlyWireErrors(() => {
        for (const c of calls) {
          const before = r.remaining();
          const v = c === 'bytes' ? r.bytes(16) : c === 'utf8' ? r.utf8(16) : c === 'rest' ? r.rest(64) : r[c]();
          assert.ok(r.remaining() <= before && r.remaining() >= 0);
          if (Buffer.isBuffer(v)) assert.ok(v.length <= end);
        }
      });
    }), RUNS);
  });

  test('invalid UTF-8 in a text string is a WireError', () => {
    const r = new Reader(new Writer().string(Buffer.from([0x66, 0xff, 0xfe])).body());
    assert.throws(() => r.utf8(10), WireError);
  });
});

describe('PacketFramer', () => {
  test('any split of a stream of packets gives back the same packets', () => {
    const pkt = bytes(600).filter((b) => b.length > 0);
    fc.assert(fc.property(fc.array(pkt, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(700), { maxLength: 10 }), (pkts, cuts) => {
      const stream = Buffer.concat(pkts.map((p) => Buffer.concat([Buffer.from([0, 0, p.length >> 8, p.length & 0xff]), p])));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const f = new PacketFramer();
      const got: Buffer[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        got.push(...f.push(stream.subarray(prev, p)).map((b) => Buffer.from(b)));
        prev = p;
      }
      assert.deepEqual(got, pkts);
      assert.equal(f.pending, 0);
    }), RUNS);
  });

  test('length 0 or beyond the maximum is a FramingError, and the framer stays failed', () => {
    fc.assert(fc.property(fc.oneof(fc.constant(0), fc.integer({ min: MAX_PACKET + 1, max: 0xffffffff })), (len) => {
      const f = new PacketFramer();
      const head = Buffer.alloc(4);
      head.writeUInt32BE(len);
      assert.throws(() => f.push(head), FramingError);
      assert.throws(() => f.push(Buffer.from([0, 0, 0, 1, 1])), FramingError);
    }), RUNS);
  });
});

describe('requests', () => {
  test('decode(encode(request)) is the request, for every request type', () => {
    fc.assert(fc.property(requestArb, ([type, id, body]) => {
      const wire = encodeRequest(type, id, body);
      const [pkt] = new PacketFramer().push(wire);
      assert.ok(pkt);
      assert.equal(pkt[0], type);
      assert.equal(pkt.readUInt32BE(1), id);
      const r = new Reader(pkt, 5);
      const back = (REQUEST_DECODERS[type] as (r: Reader) => unknown)(r);
      assert.deepEqual(back, body);
    }), RUNS);
  });

  test('truncated bodies are WireErrors, never a wrong value or a crash', () => {
    fc.assert(fc.property(requestArb, fc.nat(), ([type, id, body], k) => {
      const pkt = encodeRequest(type, id, body).subarray(9);
      if (pkt.length === 0) return;
      const cut = pkt.subarray(0, k % pkt.length);
      // EXTENDED's payload is "the rest", so any prefix of it is still a well-formed packet.
      if (type === SSH_FXP.EXTENDED) return onlyWireErrors(() => REQUEST_DECODERS[type](new Reader(cut)));
      assert.throws(() => (REQUEST_DECODERS[type] as (r: Reader) => unknown)(new Reader(cut)), WireError);
    }), RUNS);
  });

  test('arbitrary bytes decode or throw WireError for every request type and INIT', () => {
    fc.assert(fc.property(fc.constantFrom(...TYPES), bytes(200), (type, body) => {
      onlyWireErrors(() => (REQUEST_DECODERS[type] as (r: Reader) => unknown)(new Reader(body)));
      onlyWireErrors(() => decodeInit(Buffer.concat([Buffer.from([SSH_FXP.INIT]), body])));
    }), { numRuns: 2000 });
  });

  test('INIT round trip', () => {
    fc.assert(fc.property(u32, fc.array(fc.tuple(text, text), { maxLength: 5 }), (v, exts) => {
      const [pkt] = new PacketFramer().push(encodeInit(v, exts));
      const got = decodeInit(pkt!);
      assert.equal(got.version, v);
      assert.deepEqual(got.extensions.map(([k, d]) => [k, d.toString('utf8')]), exts);
    }), RUNS);
  });
});

describe('extended payloads', () => {
  const names = Object.keys(EXTENDED_DECODERS) as ExtendedName[];
  const extArbs: { [K in ExtendedName]: fc.Arbitrary<unknown> } = {
    'posix-rename@openssh.com': rec({ oldpath: text, newpath: text }),
    'statvfs@openssh.com': rec({ path: text }),
    'fstatvfs@openssh.com': rec({ handle }),
    'hardlink@openssh.com': rec({ oldpath: text, newpath: text }),
    'fsync@openssh.com': rec({ handle }),
    'lsetstat@openssh.com': rec({ path: text, attrs: attrsArb }),
    'limits@openssh.com': fc.constant({}),
  };
  test('round trip for every extension', () => {
    const arb = fc.constantFrom(...names).chain((n) => fc.tuple(fc.constant(n), extArbs[n]));
    fc.assert(fc.property(arb, ([name, body]) => {
      const data = encodeExtended(name, body as never);
      assert.deepEqual(decodeExtended(name, data), body);
    }), RUNS);
  });
  test('arbitrary payloads decode or throw WireError', () => {
    fc.assert(fc.property(fc.constantFrom(...names), bytes(300), (name, data) => {
      onlyWireErrors(() => decodeExtended(name, data));
    }), { numRuns: 2000 });
  });
  test('a huge declared string length is refused before any allocation', () => {
    const data = Buffer.from([0xff, 0xff, 0xff, 0xf0, 0x41]);
    assert.throws(() => decodeExtended('statvfs@openssh.com', data), /too long/);
    assert.throws(() => decodeExtended('fsync@openssh.com', data), /too long/);
  });
});

describe('ATTRS', () => {
  test('round trip', () => {
    fc.assert(fc.property(attrsArb, (a) => {
      const w = writeAttrs(new Writer(), a);
      const r = new Reader(w.body());
      assert.deepEqual(readAttrs(r), a);
      assert.equal(r.remaining(), 0);
    }), RUNS);
  });
  test('unknown flag bits and absurd extended counts are WireErrors', () => {
    assert.throws(() => readAttrs(new Reader(new Writer().u32(0x10).body())), /unknown attribute flags/);
    assert.throws(() => readAttrs(new Reader(new Writer().u32(0x80000000).u32(1_000_000).body())), /too many/);
  });
});

describe('replies', () => {
  test('every reply decodes back to what was encoded', () => {
    fc.assert(fc.property(u32, u32, text, handle, bytes(500), attrsArb, fc.array(fc.tuple(text, text, attrsArb), { maxLength: 5 }),
      (id, code, msg, h, data, attrs, names) => {
        const one = (b: Buffer): ReturnType<typeof decodeReply> => decodeReply(new PacketFramer().push(b)[0]!);
        assert.deepEqual(one(encodeStatus(id, code, msg)), { type: SSH_FXP.STATUS, id, code, message: msg, lang: '' });
        assert.deepEqual(one(encodeHandle(id, h)), { type: SSH_FXP.HANDLE, id, handle: h });
        assert.deepEqual(one(encodeData(id, data)), { type: SSH_FXP.DATA, id, data });
        assert.deepEqual(one(encodeAttrs(id, attrs)), { type: SSH_FXP.ATTRS, id, attrs });
        const entries = names.map(([filename, ln, a]) => ({ filename, longname: ln, attrs: a }));
        assert.deepEqual(one(encodeName(id, entries)), { type: SSH_FXP.NAME, id, entries });
        assert.deepEqual(one(encodeVersion(3, [['a@b', '1']])), { type: SSH_FXP.VERSION, version: 3, extensions: [['a@b', '1']] });
      }), RUNS);
  });
  test('statvfs and limits replies carry their uint64 fields in order', () => {
    const sv = decodeReply(new PacketFramer().push(encodeStatVfsReply(7, {
      bsize: 4096, frsize: 4096, blocks: 10, bfree: 9, bavail: 8, files: 7, ffree: 6, favail: 5, fsid: 4, flag: 2, namemax: 255,
    }))[0]!);
    assert.equal(sv.type, SSH_FXP.EXTENDED_REPLY);
    const r = new Reader((sv as { body: Buffer }).body);
    assert.deepEqual(Array.from({ length: 11 }, () => Number(r.u64())), [4096, 4096, 10, 9, 8, 7, 6, 5, 4, 2, 255]);
    const lim = decodeReply(new PacketFramer().push(encodeLimitsReply(1, { maxPacketLength: 1, maxReadLength: 2, maxWriteLength: 3, maxOpenHandles: 4 }))[0]!);
    const lr = new Reader((lim as { body: Buffer }).body);
    assert.deepEqual([lr.u64(), lr.u64(), lr.u64(), lr.u64()], [1n, 2n, 3n, 4n]);
  });
});

describe('longname', () => {
  test('mode strings as ls prints them', () => {
    assert.equal(modeString(0o100644), '-rw-r--r--');
    assert.equal(modeString(0o040755), 'drwxr-xr-x');
    assert.equal(modeString(0o120777), 'lrwxrwxrwx');
    assert.equal(modeString(0o104755), '-rwsr-xr-x');
    assert.equal(modeString(0o102644), '-rw-r-Sr--');
    assert.equal(modeString(0o041777), 'drwxrwxrwt');
    assert.equal(modeString(0o041776), 'drwxrwxrwT');
  });
  test('dates: time of day within six months, year otherwise', () => {
    const now = Date.UTC(2024, 5, 15, 12, 0) / 1000;
    assert.equal(lsDate(Date.UTC(2024, 2, 5, 9, 7) / 1000, now), 'Mar  5 09:07');
    assert.equal(lsDate(Date.UTC(2021, 11, 25) / 1000, now), 'Dec 25  2021');
  });
  test('a whole line', () => {
    const now = Date.UTC(2024, 5, 15) / 1000;
    const line = longname('t-filexfer', { mode: 0o100755, nlink: 1, uid: 1000, gid: 50, size: 348911, mtimeS: Date.UTC(2024, 2, 25, 14, 29) / 1000 }, now);
    assert.equal(line, '-rwxr-xr-x   1 1000     50         348911 Mar 25 14:29 t-filexfer');
  });
});
