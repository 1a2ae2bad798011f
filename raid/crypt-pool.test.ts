/**
 * Encrypted pools end to end in raid/: no plaintext in any segment file, a flipped ciphertext
 * byte caught by the shard checksum and repaired from parity (read and scrub), a tag failure as
 * EIO, a wrong secret refused before anything is written, rotation, and the dedup key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openRocksKv } from '../vfs/meta/rocksdb.js';
import { decodeRow, encodeRow } from './blocktable.js';
import { SHARD_HEADER_BYTES } from './format.js';
import { createPool, openPool, poolKeyStatus, readPoolState, rotatePoolKey, type Secret } from './index.js';
import { decodeKeyRecord } from './keys.js';
import type { RaidBlockStore } from './store.js';
import type { BlockStore } from './types.js';
import { openVfs, ROOT_CTX } from '../vfs/index.js';

const isErr = (errno: Errno, re?: RegExp) => (e: unknown) => e instanceof VfsError && e.errno === errno && (!re || re.test(e.message));
const FAST = { logN: 10, r: 8, p: 1 };
const pass = (passphrase: string): Secret => ({ kind: 'passphrase', passphrase });
const unlockWith = (s: Secret) => async () => s;

/** Every file under the device folders, path → bytes. */
function snapshotFiles(dirs: string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const d of dirs) for (const n of readdirSync(d)) out.set(join(d, n), readFileSync(join(d, n)));
  return out;
}

/** Every KV row, hex key → hex value. */
async function dumpKv(kv: KvStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of kv.scan(Buffer.alloc(0), Buffer.alloc(64, 0xff))) out.set(k.toString('hex'), v.toString('hex'));
  return out;
}

function flipByte(file: string, pos: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, pos);
    b[0] = b[0]! ^ 0x20;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

function segPath(dev: string, seg: number): string {
  return join(dev, `seg-${seg.toString(16).padStart(8, '0')}.dws`);
}

async function putCommit(kv: KvStore, store: BlockStore, data: Uint8Array): Promise<number> {
  const s = await store.put(data);
  await kv.txn((tx) => store.commit(s, tx));
  return s.id;
}

async function withPool(layout: string, n: number, secret: Secret, fn: (kv: KvStore, devs: string[], root: string) => Promise<void>, engine: 'memory' | 'rocksdb' = 'memory'): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'dw-crypt-'));
  const kv: KvStore = engine === 'memory' ? new MemoryKv() : await openRocksKv(join(root, 'meta'));
  const devs = Array.from({ length: n }, (_, i) => join(root, `d${i}`));
  try {
    await createPool(kv, { layout, devices: devs, segmentBytes: 1 << 20, encryption: { secret, scrypt: FAST } });
    await fn(kv, devs, root);
  } finally {
    await kv.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const MARK = 'TOP-SECRET-LEDGER-LINE';
const plain = (i: number, n = 50_000) => Buffer.from(`${MARK} ${i} `.repeat(Math.ceil(n / MARK.length) + 1)).subarray(0, n);

for (const codec of ['inline', 'worker'] as const) {
  describe(`encrypted pool, ${codec} codec`, () => {
    test('blocks read back; no plaintext in any segment file; rows say Encrypted; compression still pays', async () => {
      await withPool('rs:4+2', 6, pass('hunter2'), async (kv, devs) => {
        const store = await openPool(kv, { codec, workers: 2, unlock: unlockWith(pass('hunter2')) }) as RaidBlockStore;
        try {
          assert.equal(store.dedupKey?.length, 32);
          const ids: number[] = [];
          for (let i = 0; i < 6; i++) ids.push(await putCommit(kv, store, plain(i, [10, 5000, 70_000, 300_000, 1 << 20, 0][i]!)));
          await store.setCompression({ alg: 'zstd', level: 3 });
          const zid = await putCommit(kv, store, plain(9, 200_000));
          const zrow = (await store.getRow(zid))!;
          assert.equal(zrow.flags & 3, 3, 'compressed and encrypted');
          assert.ok(zrow.stored < 20_000, `compressed before sealing (${zrow.stored})`);
          await store.sync();
          store.cache.clear();
          for (const [i, id] of ids.entries()) {
            const row = (await store.getRow(id))!;
            assert.equal(row.flags & 2, 2, 'Encrypted flag');
            assert.equal(row.stored, row.length + 32);
            assert.ok((await store.get(id)).equals(plain(i, [10, 5000, 70_000, 300_000, 1 << 20, 0][i]!)));
          }
          assert.ok((await store.get(zid)).equals(plain(9, 200_000)));
          let files = 0;
          for (const [path, bytes] of snapshotFiles(devs)) {
            if (!path.endsWith('.dws')) continue;
            files++;
            assert.equal(bytes.indexOf(MARK), -1, `plaintext found in ${path}`);
          }
          assert.ok(files >= 6);
        } finally {
          await store.close();
        }
      });
    });
  });
}

describe('encrypted pool: damage and keys', () => {
  test('rs:2+1: a flipped ciphertext byte is caught by the shard checksum; the read returns the right data and scrub repairs', async () => {
    await withPool('rs:2+1', 3, pass('pw'), async (kv, devs) => {
      const store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('pw')) }) as RaidBlockStore;
      try {
        const a = plain(1, 40_000), b = plain(2, 40_000);
        const ida = await putCommit(kv, store, a);
        const idb = await putCommit(kv, store, b);
        await store.sync();
        for (const id of [ida, idb]) {
          const row = (await store.getRow(id))!;
          const s = row.shards[0]!; // a data shard: its payload starts with key id and nonce, then ciphertext
          flipByte(segPath(devs[s.device]!, s.segment), s.offset + SHARD_HEADER_BYTES + 100);
        }
        store.cache.clear();
        assert.ok((await store.get(ida)).equals(a), 'read repaired from parity');
        await store.idle(); // the background repair of block a
        const r = await store.scrub({ repair: true });
        assert.equal(r.unrecoverable, 0);
        assert.equal(r.badShards, 1, 'block b still had its bad shard');
        assert.equal(r.repaired, 1);
        const again = await store.scrub({ repair: false });
        assert.equal(again.badShards, 0);
        store.cache.clear();
        assert.ok((await store.get(idb)).equals(b));
      } finally {
        await store.close();
      }
    });
  });

  test('a tag failure (row altered so its checksums still pass) is EIO and returns no data', async () => {
    await withPool('rs:2+1', 3, pass('pw'), async (kv) => {
      const store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('pw')) }) as RaidBlockStore;
      try {
        const id = await putCommit(kv, store, plain(3, 3000));
        const row = (await store.getRow(id))!;
        row.length -= 1; // bound by the additional data: the tag no longer verifies
        await kv.txn(async (tx) => tx.set(keys.block(id), encodeRow(row)));
        store.cache.clear();
        await assert.rejects(store.get(id), isErr(Errno.EIO, new RegExp(`^block ${id}: decryption failed \\(AES-GCM tag mismatch\\)`)));
      } finally {
        await store.close();
      }
    });
  });

  test('wrong passphrase: refused with the one-line message, and nothing is written (device folders and every KV row unchanged)', async () => {
    await withPool('rs:2+1', 3, pass('right'), async (kv, devs) => {
      let store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('right')) });
      const id = await putCommit(kv, store, plain(4, 10_000));
      await store.close();
      const files = snapshotFiles(devs);
      const rows = await dumpKv(kv);
      const { id: poolId } = (await readPoolState(kv))!;
      await assert.rejects(openPool(kv, { codec: 'inline', unlock: unlockWith(pass('wrong')) }),
        isErr(Errno.EACCES, new RegExp(`^wrong passphrase for pool ${poolId}: the data key did not unwrap$`)));
      await assert.rejects(openPool(kv, { codec: 'inline' }), isErr(Errno.EACCES, /is encrypted: its passphrase is needed/));
      await assert.rejects(openPool(kv, { codec: 'inline', unlock: unlockWith({ kind: 'keyfile', key: randomBytes(32) }) }), isErr(Errno.EINVAL, /locked with a passphrase/));
      assert.deepEqual(snapshotFiles(devs), files, 'device folders byte-identical');
      assert.deepEqual(await dumpKv(kv), rows, 'no KV row written (no id or segment lease)');
      store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('right')) });
      assert.ok((await store.get(id)).equals(plain(4, 10_000)));
      await store.close();
    }, 'rocksdb');
  });

  test('rotate: the old passphrase is refused after, the new one (or a key file) opens, blocks are not rewritten, dedup key unchanged', async () => {
    await withPool('rs:2+1', 3, pass('old'), async (kv, devs) => {
      let store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('old')) }) as RaidBlockStore;
      const id = await putCommit(kv, store, plain(5, 20_000));
      const dedup = store.dedupKey!;
      // Rotating while the store is open: it keeps working with its keys in memory.
      await assert.rejects(rotatePoolKey(kv, pass('nope'), pass('new'), FAST), isErr(Errno.EACCES, /wrong passphrase/));
      const st = await rotatePoolKey(kv, pass('old'), pass('new'), FAST);
      assert.equal(st.source, 'passphrase');
      assert.ok((await store.get(id)).equals(plain(5, 20_000)));
      await store.close();
      const files = snapshotFiles(devs);
      await assert.rejects(openPool(kv, { codec: 'inline', unlock: unlockWith(pass('old')) }), isErr(Errno.EACCES));
      store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('new')) }) as RaidBlockStore;
      assert.ok(store.dedupKey!.equals(dedup));
      store.cache.clear();
      assert.ok((await store.get(id)).equals(plain(5, 20_000)));
      await store.close();
      // To a key file, and the status says so.
      const key = randomBytes(32);
      await rotatePoolKey(kv, pass('new'), { kind: 'keyfile', key });
      assert.match((await poolKeyStatus(kv)).description!, /key file/);
      store = await openPool(kv, { codec: 'inline', unlock: unlockWith({ kind: 'keyfile', key }) }) as RaidBlockStore;
      store.cache.clear();
      assert.ok((await store.get(id)).equals(plain(5, 20_000)));
      await store.close();
      for (const [p, b] of files) if (p.endsWith('.dws')) assert.ok(b.equals(readFileSync(p).subarray(0, b.length)), `${p}: old records untouched`);
      const rec = decodeKeyRecord((await readPoolState(kv))!.encryption!);
      assert.equal(rec.keys.length, 1);
    });
  });

  test('unencrypted pools: format 1 row, no dedup key, status says so; rotate refuses; a garbage key record is EIO', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dw-crypt-'));
    try {
      const kv = new MemoryKv();
      await createPool(kv, { layout: 'mirror:2', devices: [join(root, 'a'), join(root, 'b')] });
      const state = (await readPoolState(kv))!;
      assert.equal(state.format, 1);
      assert.equal(state.encryption, undefined);
      const store = await openPool(kv, { codec: 'inline' }) as RaidBlockStore;
      assert.equal(store.dedupKey, undefined);
      const id = await putCommit(kv, store, plain(6, 100));
      assert.equal(((await store.getRow(id))!.flags & 2), 0);
      await store.close();
      assert.equal((await poolKeyStatus(kv)).encrypted, false);
      await assert.rejects(rotatePoolKey(kv, pass('a'), pass('b')), isErr(Errno.EINVAL, /not encrypted/));
      const bad = { ...state, format: 2, encryption: 'RFdLUgE=' };
      await kv.txn(async (tx) => tx.set(keys.pool('pool'), Buffer.from(JSON.stringify(bad))));
      await assert.rejects(openPool(kv, { codec: 'inline', unlock: unlockWith(pass('a')) }), isErr(Errno.EIO, /corrupt key record: truncated/));
      const unflagged = { ...state, encryption: (bad as { encryption: string }).encryption };
      await kv.txn(async (tx) => tx.set(keys.pool('pool'), Buffer.from(JSON.stringify(unflagged))));
      await assert.rejects(openPool(kv, { codec: 'inline' }), isErr(Errno.EIO, /malformed/), 'format 1 with a key record');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('dedup on an encrypted pool (through the VFS): copies share chunks, hashes are keyed, every file reads, no plaintext on the devices', async () => {
    await withPool('rs:2+1', 3, pass('dedup pw'), async (kv, devs) => {
      const store = await openPool(kv, { codec: 'worker', workers: 2, unlock: unlockWith(pass('dedup pw')) }) as RaidBlockStore;
      const v = await openVfs({ kv, blocks: store });
      try {
        await store.setDedup(true);
        const data = plain(11, 3 << 20);
        for (const name of ['/a', '/b']) {
          const { fh } = await v.paths.open(ROOT_CTX, name, { write: true, create: true, truncate: true });
          await v.vfs.write(ROOT_CTX, fh, 0, data);
          await v.vfs.release(ROOT_CTX, fh);
        }
        const st = await store.stats();
        assert.ok(st.logicalUsed < data.length * 1.5, `the copy shares its chunks (${st.logicalUsed} logical bytes for two ${data.length}-byte files)`);
        store.cache.clear();
        for (const name of ['/a', '/b']) {
          const { fh, attr } = await v.paths.open(ROOT_CTX, name, { read: true });
          assert.ok((await v.vfs.read(ROOT_CTX, fh, 0, attr.size + 1)).equals(data), `${name} reads back`);
          await v.vfs.release(ROOT_CTX, fh);
        }
        await store.sync();
        for (const [path, bytes] of snapshotFiles(devs)) if (path.endsWith('.dws')) assert.equal(bytes.indexOf(MARK), -1, `plaintext in ${path}`);
      } finally {
        await v.close();
      }
    }, 'rocksdb');
  });

  test('a small file on an encrypted pool is a sealed block, never kept in its extent row (no plaintext in the metadata)', async () => {
    await withPool('rs:2+1', 3, pass('inline pw'), async (kv) => {
      const store = await openPool(kv, { codec: 'inline', unlock: unlockWith(pass('inline pw')) });
      const v = await openVfs({ kv, blocks: store, inlineMax: 4096 }); // asked for, and still refused
      try {
        assert.equal(v.impl.inlineMax, 0);
        const { fh, attr } = await v.paths.open(ROOT_CTX, '/note', { write: true, create: true });
        await v.vfs.write(ROOT_CTX, fh, 0, plain(1, 500));
        await v.vfs.fsync(ROOT_CTX, fh);
        await v.vfs.release(ROOT_CTX, fh);
        const [first] = await v.impl.meta.extents(attr.ino);
        assert.ok(first && first[1].inline === undefined && first[1].length === 500, 'one block extent');
        for (const [, val] of await dumpKv(kv)) assert.equal(Buffer.from(val, 'hex').indexOf(MARK), -1, 'plaintext in a metadata row');
      } finally {
        await v.close();
      }
    });
  });

  test('key-file pool: a wrong key is refused; the right one opens; rows are version 2 with the Encrypted flag', async () => {
    const key = randomBytes(32);
    await withPool('raid5:3', 3, { kind: 'keyfile', key }, async (kv) => {
      assert.equal(decodeKeyRecord((await readPoolState(kv))!.encryption!).source, 'keyfile');
      await assert.rejects(openPool(kv, { codec: 'inline', unlock: unlockWith({ kind: 'keyfile', key: randomBytes(32) }) }), isErr(Errno.EACCES, /^wrong key file for pool/));
      const store = await openPool(kv, { codec: 'inline', unlock: unlockWith({ kind: 'keyfile', key }) });
      const id = await putCommit(kv, store, plain(7, 777));
      const raw = (await kv.get(keys.block(id)))!;
      assert.equal(raw[0], 2, 'row version 2');
      const row = decodeRow(raw, id);
      assert.equal(row.flags, 2);
      assert.equal(row.stored, 777 + 32);
      assert.ok((await store.get(id)).equals(plain(7, 777)));
      await store.close();
    });
  });
});
