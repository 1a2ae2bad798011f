/**
 * The shared KvStore suite (vfs/meta/kv.ts semantics), run against every engine by
 * vfs/meta/kv.test.ts. Each test gets a fresh, empty store from the factory and cleans it up.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../../vfs/errno.js';
import { decodeCounter, encodeCounter, type KvStore, type KvTxn, type ScanOptions } from '../../vfs/meta/kv.js';

export type KvFactory = () => Promise<{ kv: KvStore; cleanup(): Promise<void> }>;

const b = (...bytes: number[]) => Buffer.from(bytes);
const s = (str: string) => Buffer.from(str);
const MIN = Buffer.alloc(0);
/** Above every key the suite writes (keys are at most 8 bytes long). */
const MAX = Buffer.alloc(16, 0xff);

async function collect(it: AsyncIterable<[Buffer, Buffer]>): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [k, v] of it) out.push([k.toString('hex'), v.toString('hex')]);
  return out;
}

async function put(kv: KvStore, entries: [Buffer, Buffer][]): Promise<void> {
  await kv.txn(async (tx) => {
    for (const [k, v] of entries) tx.set(k, v);
  });
}

function isErrno(errno: Errno) {
  return (err: unknown) => err instanceof VfsError && err.errno === errno;
}

/** Registers the shared suite under `describe(name)`. */
export function kvSuite(name: string, factory: KvFactory): void {
  /** Runs body with a fresh store and always cleans it up. */
  const withKv = (body: (kv: KvStore) => Promise<void>) => async () => {
    const { kv, cleanup } = await factory();
    try {
      await body(kv);
    } finally {
      await cleanup();
    }
  };

  describe(`KvStore suite: ${name}`, () => {
    test('empty store: get, getMany and scan find nothing', withKv(async (kv) => {
      assert.equal(await kv.get(s('a')), undefined);
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [undefined, undefined]);
      assert.deepEqual(await kv.getMany([]), []);
      assert.deepEqual(await collect(kv.scan(MIN, MAX)), []);
    }));

    test('get and getMany return committed values in argument order', withKv(async (kv) => {
      await put(kv, [[s('k1'), s('v1')], [s('k2'), s('v2')]]);
      assert.deepEqual(await kv.get(s('k1')), s('v1'));
      assert.deepEqual(await kv.getMany([s('k2'), s('nope'), s('k1'), s('k2')]), [s('v2'), undefined, s('v1'), s('v2')]);
    }));

    test('empty value is distinct from absent; empty key is a key', withKv(async (kv) => {
      await put(kv, [[s('e'), Buffer.alloc(0)], [MIN, s('root')]]);
      assert.deepEqual(await kv.get(s('e')), Buffer.alloc(0));
      assert.deepEqual(await kv.get(MIN), s('root'));
      assert.deepEqual(await collect(kv.scan(MIN, MAX)), [['', s('root').toString('hex')], [s('e').toString('hex'), '']]);
    }));

    test('values are copied: mutating a written or read buffer changes nothing', withKv(async (kv) => {
      const key = s('k');
      const val = s('value');
      await kv.txn(async (tx) => { tx.set(key, val); });
      val[0] = 0x21;
      key[0] = 0x21;
      const got = await kv.get(s('k'));
      assert.deepEqual(got, s('value'));
      got![0] = 0x21;
      assert.deepEqual(await kv.get(s('k')), s('value'));
    }));

    test('scan: half-open ranges, reverse, limit, empty ranges', withKv(async (kv) => {
      await put(kv, ['a', 'b', 'c', 'd', 'e'].map((k) => [s(k), s(k.toUpperCase())]));
      const keys = async (begin: string, end: string, opts?: ScanOptions) =>
        (await collect(kv.scan(s(begin), s(end), opts))).map(([k]) => Buffer.from(k, 'hex').toString());
      assert.deepEqual(await keys('b', 'd'), ['b', 'c']);
      assert.deepEqual(await keys('b', 'dd'), ['b', 'c', 'd']);
      assert.deepEqual(await keys('', 'zz'), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(await keys('b', 'e', { reverse: true }), ['d', 'c', 'b']);
      assert.deepEqual(await keys('a', 'z', { limit: 2 }), ['a', 'b']);
      assert.deepEqual(await keys('a', 'z', { limit: 2, reverse: true }), ['e', 'd']);
      assert.deepEqual(await keys('a', 'z', { limit: 0 }), []);
      assert.deepEqual(await keys('a', 'z', { limit: 99 }), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(await keys('c', 'c'), []);
      assert.deepEqual(await keys('d', 'b'), []);
      assert.deepEqual(await keys('f', 'z'), []);
      assert.deepEqual(await keys('a', ''), []);
      // values come along
      assert.deepEqual(await collect(kv.scan(s('c'), s('d'))), [[s('c').toString('hex'), s('C').toString('hex')]]);
    }));

    test('scan: binary keys order by unsigned bytes (0x00, 0xff, prefixes)', withKv(async (kv) => {
      const ks = [b(0xff), b(0x00), b(0x00, 0x00), b(0x7f), b(0x80), b(0xff, 0x00), b(0xff, 0xff), b(0x01), b(0x00, 0xff)];
      await put(kv, ks.map((k) => [k, k]));
      const sorted = [...ks].sort(Buffer.compare).map((k) => k.toString('hex'));
      const all = await collect(kv.scan(MIN, MAX));
      assert.deepEqual(all.map(([k]) => k), sorted);
      assert.deepEqual(all.map(([, v]) => v), sorted);
      assert.deepEqual((await collect(kv.scan(MIN, MAX, { reverse: true }))).map(([k]) => k), [...sorted].reverse());
      // a prefix range: every key starting with 0x00
      assert.deepEqual((await collect(kv.scan(b(0x00), b(0x01)))).map(([k]) => k), ['00', '0000', '00ff']);
      // keys starting with 0xff, up to the top
      assert.deepEqual((await collect(kv.scan(b(0xff), b(0xff, 0xff, 0xff)))).map(([k]) => k), ['ff', 'ff00', 'ffff']);
    }));

    test('scan: many entries stream in order (crosses engine batch sizes)', withKv(async (kv) => {
      const n = 1000;
      const key = (i: number) => { const k = Buffer.alloc(4); k.writeUInt32BE(i); return k; };
      await kv.txn(async (tx) => { for (let i = 0; i < n; i++) tx.set(key(i), s(String(i))); });
      let i = 0;
      for await (const [k, v] of kv.scan(MIN, MAX)) {
        assert.deepEqual(k, key(i));
        assert.equal(v.toString(), String(i));
        i++;
      }
      assert.equal(i, n);
      const rev: number[] = [];
      for await (const [k] of kv.scan(key(100), key(900), { reverse: true, limit: 300 })) rev.push(k.readUInt32BE(0));
      assert.deepEqual(rev, Array.from({ length: 300 }, (_, x) => 899 - x));
      // stopping early releases the iteration
      for await (const [k] of kv.scan(MIN, MAX)) { assert.deepEqual(k, key(0)); break; }
    }));

    test('txn: writes apply together; result is returned', withKv(async (kv) => {
      const r = await kv.txn(async (tx) => {
        tx.set(s('a'), s('1'));
        tx.set(s('b'), s('2'));
        tx.set(s('a'), s('3'));
        return 42;
      });
      assert.equal(r, 42);
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [s('3'), s('2')]);
      await kv.txn(async (tx) => { tx.delete(s('a')); tx.delete(s('never')); });
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [undefined, s('2')]);
    }));

    test('txn: nothing is applied when fn throws; the error passes through; later txns run', withKv(async (kv) => {
      await put(kv, [[s('keep'), s('old')]]);
      const boom = new Error('boom');
      let hook = 0;
      await assert.rejects(kv.txn(async (tx) => {
        tx.set(s('keep'), s('new'));
        tx.set(s('x'), s('y'));
        await tx.incrBy(s('n'), 5n);
        tx.onCommit(() => { hook++; });
        throw boom;
      }), (err) => err === boom);
      assert.equal(hook, 0);
      assert.deepEqual(await kv.getMany([s('keep'), s('x'), s('n')]), [s('old'), undefined, undefined]);
      assert.equal(await kv.txn(async (tx) => { tx.set(s('x'), s('z')); return 'ok'; }), 'ok');
      assert.deepEqual(await kv.get(s('x')), s('z'));
    }));

    test('txn: reads see pending writes (get, getMany, scan merge)', withKv(async (kv) => {
      await put(kv, ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [s(k), s(k)]));
      await kv.txn(async (tx) => {
        tx.set(s('b'), s('B'));
        tx.delete(s('c'));
        tx.set(s('cc'), s('CC'));
        tx.delete(s('e'));
        tx.set(s('g'), s('G'));
        tx.delete(s('zz'));
        assert.deepEqual(await tx.get(s('b')), s('B'));
        assert.equal(await tx.get(s('c')), undefined);
        assert.deepEqual(await tx.get(s('a')), s('a'));
        assert.deepEqual(await tx.getMany([s('c'), s('a'), s('g'), s('b'), s('nope')]), [undefined, s('a'), s('G'), s('B'), undefined]);
        const text = async (begin: string, end: string, opts?: ScanOptions) =>
          (await collect(tx.scan(s(begin), s(end), opts))).map(([k, v]) => `${Buffer.from(k, 'hex')}=${Buffer.from(v, 'hex')}`);
        assert.deepEqual(await text('', 'z'), ['a=a', 'b=B', 'cc=CC', 'd=d', 'f=f', 'g=G']);
        assert.deepEqual(await text('', 'z', { reverse: true }), ['g=G', 'f=f', 'd=d', 'cc=CC', 'b=B', 'a=a']);
        // limits count visible entries only: pending deletes do not use up the limit
        assert.deepEqual(await text('b', 'z', { limit: 3 }), ['b=B', 'cc=CC', 'd=d']);
        assert.deepEqual(await text('a', 'f', { limit: 2, reverse: true }), ['d=d', 'cc=CC']);
        assert.deepEqual(await text('c', 'd'), ['cc=CC']);
        tx.delete(s('d'));
        assert.deepEqual(await text('c', 'z', { limit: 1 }), ['cc=CC']);
        tx.delete(s('cc'));
        assert.deepEqual(await text('c', 'z', { limit: 1 }), ['f=f'], 'a limit skips pending deletes of committed keys');
        assert.deepEqual(await text('a', 'f', { limit: 1, reverse: true }), ['b=B']);
        tx.set(s('d'), s('d'));
        tx.set(s('cc'), s('CC'));
        assert.deepEqual(await text('e', 'f'), []);
        // outside the txn nothing is visible yet
        assert.deepEqual(await kv.get(s('b')), s('b'));
        assert.equal(await kv.get(s('g')), undefined);
      });
      assert.deepEqual((await collect(kv.scan(MIN, MAX))).map(([k]) => Buffer.from(k, 'hex').toString()), ['a', 'b', 'cc', 'd', 'f', 'g']);
    }));

    test('txn: a delete then set of the same key, and set then delete', withKv(async (kv) => {
      await put(kv, [[s('a'), s('1')], [s('b'), s('2')]]);
      await kv.txn(async (tx) => {
        tx.delete(s('a'));
        tx.set(s('a'), s('new'));
        tx.set(s('b'), s('tmp'));
        tx.delete(s('b'));
        assert.deepEqual(await collect(tx.scan(MIN, MAX)), [[s('a').toString('hex'), s('new').toString('hex')]]);
      });
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [s('new'), undefined]);
    }));

    test('incrBy: i64 LE counters, absent = 0, deleted at 0, overflow is EOVERFLOW', withKv(async (kv) => {
      const k = s('ctr');
      assert.equal(await kv.txn((tx) => tx.incrBy(k, 5n)), 5n);
      assert.deepEqual(await kv.get(k), encodeCounter(5n));
      assert.equal((await kv.get(k))!.readBigInt64LE(0), 5n);
      assert.equal(await kv.txn(async (tx) => { await tx.incrBy(k, -7n); return tx.incrBy(k, 1n); }), -1n);
      assert.equal(decodeCounter(await kv.get(k)), -1n);
      assert.equal(await kv.txn((tx) => tx.incrBy(k, 1n)), 0n);
      assert.equal(await kv.get(k), undefined, 'a counter that ends at 0 is deleted');
      // concurrent incrBy calls inside one txn do not lose updates
      assert.equal(await kv.txn(async (tx) => {
        await Promise.all([tx.incrBy(k, 1n), tx.incrBy(k, 2n), tx.incrBy(k, 3n)]);
        return tx.incrBy(k, 0n);
      }), 6n);
      const max = 2n ** 63n - 1n;
      await kv.txn(async (tx) => { tx.set(k, encodeCounter(max - 1n)); });
      assert.equal(await kv.txn((tx) => tx.incrBy(k, 1n)), max);
      await assert.rejects(kv.txn((tx) => tx.incrBy(k, 1n)), isErrno(Errno.EOVERFLOW));
      assert.equal(decodeCounter(await kv.get(k)), max);
      await assert.rejects(kv.txn((tx) => tx.incrBy(s('neg'), -(2n ** 63n) - 1n)), isErrno(Errno.EOVERFLOW));
    }));

    test('addCounter: summed per key, applied once the function resolves, deleted at 0, overflow fails the whole txn', withKv(async (kv) => {
      const a = s('ctrA');
      const b = s('ctrB');
      await kv.txn(async (tx) => { tx.set(a, encodeCounter(10n)); });
      const seen = await kv.txn(async (tx) => {
        tx.addCounter(a, 5n);
        tx.addCounter(b, 2n);
        tx.addCounter(a, -1n);
        const mid = decodeCounter(await tx.get(a)); // reads in the transaction do not see added counts
        tx.addCounter(b, 3n);
        await tx.incrBy(a, 100n); // an incrBy of the same key in the transaction: both count
        return mid;
      });
      assert.equal(seen, 10n);
      assert.equal(decodeCounter(await kv.get(a)), 114n);
      assert.equal(decodeCounter(await kv.get(b)), 5n);
      // cached readers see the applied value too (the cache layer applies them itself)
      assert.equal(await kv.txn((tx) => tx.incrBy(a, 0n)), 114n);
      await kv.txn(async (tx) => { tx.addCounter(b, -5n); tx.addCounter(a, 0n); });
      assert.equal(await kv.get(b), undefined, 'a counter that ends at 0 is deleted');
      assert.equal(decodeCounter(await kv.get(a)), 114n);
      // summing to zero within the transaction writes nothing for the key (applied one by one,
      // +7 then -7 would have turned this non-counter value into 0 and deleted it)
      await kv.txn(async (tx) => { tx.set(b, s('xy')); });
      await kv.txn(async (tx) => { tx.addCounter(b, 7n); tx.addCounter(b, -7n); });
      assert.deepEqual(await kv.get(b), s('xy'));
      // an overflow rejects the transaction with EOVERFLOW and applies none of its writes
      const max = 2n ** 63n - 1n;
      await kv.txn(async (tx) => { tx.set(b, encodeCounter(max)); });
      await assert.rejects(kv.txn(async (tx) => {
        tx.set(s('other'), s('x'));
        tx.addCounter(a, 1n);
        tx.addCounter(b, 1n);
      }), isErrno(Errno.EOVERFLOW));
      assert.equal(await kv.get(s('other')), undefined);
      assert.equal(decodeCounter(await kv.get(a)), 114n);
      assert.equal(decodeCounter(await kv.get(b)), max);
      // a throwing function applies no added counts
      await assert.rejects(kv.txn(async (tx) => { tx.addCounter(a, 1n); throw new Error('no'); }), /no/);
      assert.equal(decodeCounter(await kv.get(a)), 114n);
    }));

    test('onCommit: hooks run in order after the batch is applied, before txn resolves', withKv(async (kv) => {
      const seen: string[] = [];
      const done = kv.txn(async (tx) => {
        tx.set(s('h'), s('1'));
        tx.onCommit(() => seen.push('first'));
        tx.onCommit(() => seen.push('second'));
        seen.push('fn');
      });
      await done;
      seen.push('resolved');
      assert.deepEqual(seen, ['fn', 'first', 'second', 'resolved']);
      // the next txn sees the committed value when its hooks ran
      let inHook: Promise<Buffer | undefined> | undefined;
      await kv.txn(async (tx) => {
        tx.set(s('h'), s('2'));
        tx.onCommit(() => { inHook = kv.get(s('h')); });
      });
      assert.deepEqual(await inHook, s('2'));
    }));

    test('a transaction object is unusable after its txn finished', withKv(async (kv) => {
      let saved: KvTxn | undefined;
      await kv.txn(async (tx) => { saved = tx; tx.set(s('a'), s('1')); });
      assert.throws(() => saved!.set(s('late'), s('x')), isErrno(Errno.EINVAL));
      assert.throws(() => saved!.delete(s('a')), isErrno(Errno.EINVAL));
      assert.equal(await kv.get(s('late')), undefined);
    }));

    test('txns are serialized: 100 concurrent read-modify-writes end at 100', withKv(async (kv) => {
      const k = s('count');
      const order: number[] = [];
      await Promise.all(Array.from({ length: 100 }, (_, i) => kv.txn(async (tx) => {
        const cur = Number((await tx.get(k))?.toString() ?? '0');
        await new Promise((r) => setImmediate(r));
        tx.set(k, s(String(cur + 1)));
        order.push(i);
      })));
      assert.equal((await kv.get(k))!.toString(), '100');
      assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i), 'txns run in submission order');
      await Promise.all(Array.from({ length: 100 }, () => kv.txn((tx) => tx.incrBy(s('c'), 1n))));
      assert.equal(decodeCounter(await kv.get(s('c'))), 100n);
    }));

    test('failing txns among concurrent ones do not disturb the others', withKv(async (kv) => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => kv.txn(async (tx) => {
        await tx.incrBy(s('c'), 1n);
        tx.set(s(`k${i}`), s('x'));
        if (i % 3 === 0) throw new Error(`fail ${i}`);
      })));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(ok, 13);
      assert.equal(decodeCounter(await kv.get(s('c'))), 13n);
      const keys = (await collect(kv.scan(s('k'), s('l')))).length;
      assert.equal(keys, 13);
    }));

    test('plain reads see the last committed state only', withKv(async (kv) => {
      await put(kv, [[s('a'), s('1')]]);
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      let entered!: () => void;
      const inside = new Promise<void>((r) => { entered = r; });
      const t = kv.txn(async (tx) => { tx.set(s('a'), s('2')); tx.set(s('b'), s('2')); entered(); await gate; });
      await inside;
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [s('1'), undefined]);
      assert.equal((await collect(kv.scan(MIN, MAX))).length, 1);
      release();
      await t;
      assert.deepEqual(await kv.getMany([s('a'), s('b')]), [s('2'), s('2')]);
    }));

    test('sync() and txn({ sync: true }) commit normally', withKv(async (kv) => {
      await kv.sync();
      await kv.txn(async (tx) => { tx.set(s('d'), s('1')); }, { sync: true });
      await Promise.all([
        kv.txn(async (tx) => { tx.set(s('e'), s('1')); }, { sync: true }),
        kv.txn(async (tx) => { tx.set(s('f'), s('1')); }, { sync: true }),
        kv.sync(),
      ]);
      assert.deepEqual(await kv.getMany([s('d'), s('e'), s('f')]), [s('1'), s('1'), s('1')]);
      await kv.sync();
    }));

    test('close: later calls reject', withKv(async (kv) => {
      await put(kv, [[s('a'), s('1')]]);
      assert.equal(typeof kv.engine, 'string');
      await kv.close();
      await assert.rejects(kv.get(s('a')));
      await assert.rejects(kv.getMany([s('a')]));
      await assert.rejects(kv.txn(async () => 1));
      await assert.rejects(collect(kv.scan(MIN, MAX)));
    }));

    test('model-based: random txns match a Map model (fast-check)', withKv(async (kv) => {
      await fc.assert(fc.asyncProperty(fc.array(txnArb, { minLength: 1, maxLength: 12 }), async (txns) => {
        await clear(kv);
        const model = new Map<string, Buffer>();
        for (const ops of txns) await runModelTxn(kv, model, ops);
        const expect = [...model.entries()].sort(([a], [c]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(c, 'hex')))
          .map(([k, v]) => [k, v.toString('hex')]);
        assert.deepEqual(await collect(kv.scan(MIN, MAX)), expect);
      }), { numRuns: Number(process.env.FUZZ_RUNS ?? 60) });
    }));
  });
}

// ---- model-based test ----

type Op =
  | { t: 'set'; k: Buffer; v: Buffer }
  | { t: 'del'; k: Buffer }
  | { t: 'incr'; k: Buffer; d: bigint }
  | { t: 'add'; k: Buffer; d: bigint }
  | { t: 'get'; k: Buffer }
  | { t: 'scan'; begin: Buffer; end: Buffer; reverse: boolean; limit: number | undefined }
  | { t: 'throw' };

const byteArb = fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff);
const keyArb = fc.array(byteArb, { maxLength: 3 }).map((a) => Buffer.from(a));
const valArb = fc.oneof(
  fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)),
  fc.bigInt({ min: -5n, max: 5n }).map(encodeCounter),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('set' as const), k: keyArb, v: valArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('incr' as const), k: keyArb, d: fc.bigInt({ min: -3n, max: 3n }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('add' as const), k: keyArb, d: fc.bigInt({ min: -3n, max: 3n }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('get' as const), k: keyArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('scan' as const),
      begin: keyArb,
      end: keyArb,
      reverse: fc.boolean(),
      limit: fc.option(fc.nat({ max: 6 }), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'throw' as const }) },
);
const txnArb = fc.array(opArb, { maxLength: 10 });

function modelScan(m: Map<string, Buffer>, begin: Buffer, end: Buffer, reverse: boolean, limit: number | undefined): [string, string][] {
  let rows = [...m.entries()]
    .map(([k, v]) => [Buffer.from(k, 'hex'), v] as const)
    .filter(([k]) => Buffer.compare(k, begin) >= 0 && Buffer.compare(k, end) < 0)
    .sort((x, y) => Buffer.compare(x[0], y[0]))
    .map(([k, v]): [string, string] => [k.toString('hex'), v.toString('hex')]);
  if (reverse) rows.reverse();
  if (limit !== undefined) rows = rows.slice(0, limit);
  return rows;
}

class Abort extends Error {}

/**
 * Runs ops in one txn, checking every read against a working copy; commits the copy unless it
 * threw. Counters added with addCounter land in the copy only once the ops are done (summed per
 * key, in the order keys were first added), as KvTxn.addCounter says.
 */
async function runModelTxn(kv: KvStore, model: Map<string, Buffer>, ops: Op[]): Promise<void> {
  const work = new Map(model);
  const added = new Map<string, bigint>();
  try {
    await kv.txn(async (tx) => {
      for (const op of ops) {
        switch (op.t) {
          case 'set': tx.set(op.k, op.v); work.set(op.k.toString('hex'), op.v); break;
          case 'del': tx.delete(op.k); work.delete(op.k.toString('hex')); break;
          case 'incr': {
            const n = decodeCounter(work.get(op.k.toString('hex'))) + op.d;
            assert.equal(await tx.incrBy(op.k, op.d), n);
            if (n === 0n) work.delete(op.k.toString('hex'));
            else work.set(op.k.toString('hex'), encodeCounter(n));
            break;
          }
          case 'add': tx.addCounter(op.k, op.d); added.set(op.k.toString('hex'), (added.get(op.k.toString('hex')) ?? 0n) + op.d); break;
          case 'get': assert.deepEqual(await tx.get(op.k), work.get(op.k.toString('hex'))); break;
          case 'scan':
            assert.deepEqual(
              await collect(tx.scan(op.begin, op.end, { reverse: op.reverse, limit: op.limit })),
              modelScan(work, op.begin, op.end, op.reverse, op.limit),
            );
            break;
          case 'throw': throw new Abort();
        }
      }
    });
  } catch (err) {
    if (err instanceof Abort) return;
    throw err;
  }
  for (const [k, d] of added) {
    if (d === 0n) continue;
    const n = decodeCounter(work.get(k)) + d;
    if (n === 0n) work.delete(k);
    else work.set(k, encodeCounter(n));
  }
  model.clear();
  for (const [k, v] of work) model.set(k, v);
}

async function clear(kv: KvStore): Promise<void> {
  await kv.txn(async (tx) => {
    for await (const [k] of tx.scan(MIN, MAX)) tx.delete(k);
  });
}
