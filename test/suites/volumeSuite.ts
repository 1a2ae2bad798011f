/**
 * volumeSuite: what every engine's block volumes (vfs/volumes.ts) must do: the catalogue,
 * byte I/O at 512-byte granularity, thin provisioning, snapshots and clones, and that no file
 * protocol can reach a volume. Run against the memory engines and RocksDB + the rs:4+2 pool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rejectsErrno, type VfsFixture } from './fixtures.js';
import type { VfsInstance, VolumeStore } from '../../vfs/index.js';
import { Errno, openVolumes, ROOT_CTX, VfsError } from '../../vfs/index.js';
import { SNAPDIR_NAME } from '../../vfs/vfs.js';

const K = 1024, M = 1024 * K;

export function volumeSuite(name: string, factory: () => Promise<VfsFixture>): void {
  describe(`volumeSuite: ${name}`, () => {
    let fx: VfsFixture;
    let vols: VolumeStore;
    let n = 0;
    const fresh = () => `v${++n}`;
    const used = async () => (await fx.inst.impl.blocks.stats()).logicalUsed;
    before(async () => {
      fx = await factory();
      vols = openVolumes(fx.inst);
    });
    after(async () => { await fx.cleanup(); });

    test('create, get, list, resize, delete', async () => {
      const v = fresh();
      const info = await vols.create(v, { sizeBytes: 4 * M });
      assert.deepEqual({ ...info, created: '' }, { name: v, sizeBytes: 4 * M, recordSize: 64 * K, thick: false, usedBytes: 0, created: '', snapshots: [] });
      assert.ok(!Number.isNaN(Date.parse(info.created)));
      assert.equal(openVolumes(fx.inst), vols, 'one catalogue per instance');
      assert.ok((await vols.list()).some((x) => x.name === v));
      assert.equal((await vols.resize(v, 8 * M)).sizeBytes, 8 * M);
      assert.equal((await vols.get(v)).sizeBytes, 8 * M);
      await vols.delete(v);
      await rejectsErrno(vols.get(v), Errno.ENOENT);
      assert.ok(!(await vols.list()).some((x) => x.name === v));
    });

    test('names, sizes and block sizes are checked', async () => {
      for (const bad of ['', '.hidden', 'a/b', 'a@b', 'x'.repeat(65), 'sp ace', 'ü']) await rejectsErrno(vols.create(bad, { sizeBytes: M }), Errno.EINVAL);
      await vols.create('x'.repeat(64), { sizeBytes: M });
      await vols.delete('x'.repeat(64));
      const v = fresh();
      for (const size of [0, -4096, 1000, 4096.5, 2 ** 60]) await rejectsErrno(vols.create(v, { sizeBytes: size }), Errno.EINVAL);
      for (const rs of [2048, 3 * 4096, 2 * M]) await rejectsErrno(vols.create(v, { sizeBytes: M, recordSize: rs }), Errno.EINVAL);
      await vols.create(v, { sizeBytes: M, recordSize: 4 * K });
      await rejectsErrno(vols.create(v, { sizeBytes: M }), Errno.EEXIST);
      await rejectsErrno(vols.resize(v, 1000), Errno.EINVAL);
      await rejectsErrno(vols.resize('nope', M), Errno.ENOENT);
      await rejectsErrno(vols.delete('nope'), Errno.ENOENT);
      await rejectsErrno(vols.open('nope'), Errno.ENOENT);
      await rejectsErrno(vols.open(`${v}@none`), Errno.ENOENT);
      await rejectsErrno(vols.snapshot(v, '.x'), Errno.EINVAL);
      await vols.delete(v);
    });

    test('read after write at 512-byte offsets across records; holes read zeros', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: 2 * M });
      const vol = await vols.open(v);
      assert.equal(vol.sizeBytes, 2 * M);
      assert.equal(vol.recordSize, 64 * K);
      assert.equal(vol.readOnly, false);
      const model = Buffer.alloc(2 * M);
      assert.ok((await vol.read(0, 2 * M)).equals(model), 'a new volume reads zeros');
      for (let i = 0; i < 60; i++) {
        const off = 512 * Math.floor(Math.random() * (4096 - 16));
        const len = 512 * (1 + Math.floor(Math.random() * 300));
        const data = randomBytes(Math.min(len, 2 * M - off));
        await vol.write(off, data, { fua: i % 7 === 0 });
        data.copy(model, off);
        const r0 = 512 * Math.floor(Math.random() * 4096);
        const rl = Math.min(512 * 200, 2 * M - r0);
        assert.ok((await vol.read(r0, rl)).equals(model.subarray(r0, r0 + rl)), `read at ${r0} after write ${i}`);
      }
      await vol.flush();
      assert.ok((await vol.read(0, 2 * M)).equals(model));
      const again = await vols.open(v);
      assert.ok((await again.read(0, 2 * M)).equals(model), 'a second handle sees the same bytes');
      await again.close();
      await vol.close();
      await rejectsErrno(vol.read(0, 512), Errno.EBADF);
      const third = await vols.open(v);
      assert.ok((await third.read(0, 2 * M)).equals(model), 'reopened after close');
      await third.close();
      await vols.delete(v);
    });

    test('readLent gives the bytes read gives, one piece per record, and later writes do not change pieces lent until given back', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: 2 * M });
      const vol = await vols.open(v);
      const model = Buffer.alloc(2 * M);
      const a = randomBytes(300 * K);
      await vol.write(100 * K, a); // records 1..6 partly, the rest holes
      a.copy(model, 100 * K);
      await vol.flush(); // stored: pieces may now be views of cached blocks
      const b = randomBytes(8 * K);
      await vol.write(512 * K, b); // buffered, not flushed
      b.copy(model, 512 * K);
      for (const [off, len] of [[0, 2 * M], [99 * K + 512, 200 * K], [64 * K, 64 * K], [511 * K, 10 * K], [2 * M - 512, 512]] as const) {
        const { parts: pieces, giveBack } = await vol.readLent(off, len);
        assert.ok(Array.isArray(pieces));
        const joined = Buffer.concat(pieces);
        assert.ok(joined.equals(model.subarray(off, off + len)), `readShared(${off}, ${len}) equals the model`);
        let at = off;
        for (const p of pieces) {
          assert.ok(p.length > 0 && Math.floor(at / (64 * K)) === Math.floor((at + p.length - 1) / (64 * K)), `the piece at ${at} lies in one record`);
          at += p.length;
        }
        giveBack();
        giveBack(); // a second call is harmless
      }
      const copy = async (o: number, n: number): Promise<Buffer> => {
        const l = await vol.readLent(o, n);
        const b = Buffer.concat(l.parts);
        l.giveBack();
        return b;
      };
      const before = await copy(128 * K, 64 * K);
      const held = await vol.readLent(128 * K, 64 * K);
      await vol.write(128 * K, Buffer.alloc(64 * K, 0x5a));
      await vol.flush();
      for (let i = 0; i < 8; i++) await copy(0, 2 * M); // other reads meanwhile, which may load blocks into free slots
      assert.ok(Buffer.concat(held.parts).equals(before), 'pieces lent keep their bytes after an overwrite');
      held.giveBack();
      assert.ok((await copy(128 * K, 64 * K)).equals(Buffer.alloc(64 * K, 0x5a)));
      await rejectsErrno(vol.readLent(2 * M, 512), Errno.EINVAL);
      await vol.close();
      await vols.delete(v);
    });

    test('a range outside the volume is EINVAL', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      await rejectsErrno(vol.read(M - 512, 1024), Errno.EINVAL);
      await rejectsErrno(vol.write(M, Buffer.alloc(512)), Errno.EINVAL);
      await rejectsErrno(vol.read(-512, 512), Errno.EINVAL);
      await rejectsErrno(vol.unmap(0, M + 512), Errno.EINVAL);
      await rejectsErrno(vol.mapping(M, 512), Errno.EINVAL);
      assert.equal((await vol.read(M - 512, 512)).length, 512);
      await vol.close();
      await vols.delete(v);
    });

    test('unmap frees whole records (usedBytes goes down) and reads zeros; mapping shows the runs', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      await vol.write(0, randomBytes(M));
      await vol.flush();
      assert.equal((await vols.get(v)).usedBytes, M);
      assert.deepEqual(await vol.mapping(0, M), [{ offset: 0, length: M, mapped: true }]);
      // Records 2..5 wholly, and half of record 1 and of record 6.
      await vol.unmap(96 * K, 320 * K);
      assert.equal((await vols.get(v)).usedBytes, M - 4 * 64 * K);
      const r = await vol.read(64 * K, 6 * 64 * K);
      assert.ok(r.subarray(32 * K, 32 * K + 320 * K).equals(Buffer.alloc(320 * K)));
      assert.ok(!r.subarray(0, 32 * K).equals(Buffer.alloc(32 * K)), 'bytes before the range stay');
      assert.deepEqual(await vol.mapping(0, M), [
        { offset: 0, length: 128 * K, mapped: true },
        { offset: 128 * K, length: 256 * K, mapped: false },
        { offset: 384 * K, length: M - 384 * K, mapped: true },
      ]);
      assert.deepEqual(await vol.mapping(130 * K, 2 * K), [{ offset: 130 * K, length: 2 * K, mapped: false }]);
      await vol.unmap(0, M);
      assert.equal((await vols.get(v)).usedBytes, 0);
      assert.deepEqual(await vol.mapping(0, M), [{ offset: 0, length: M, mapped: false }]);
      // A buffered write counts as mapped before it is flushed.
      await vol.write(512 * K + 512, Buffer.alloc(512, 1));
      assert.deepEqual(await vol.mapping(0, M), [
        { offset: 0, length: 512 * K, mapped: false },
        { offset: 512 * K, length: 64 * K, mapped: true },
        { offset: 576 * K, length: M - 576 * K, mapped: false },
      ]);
      await vol.close();
      await vols.delete(v);
    });

    test('a snapshot keeps the old bytes; writing to it is EROFS; deleting it frees what only it held', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      const old = randomBytes(M);
      await vol.write(0, old);
      await vol.flush();
      const before = await used();
      randomBytes(512).copy(old, 4096);
      await vol.write(4096, old.subarray(4096, 4608)); // buffered: the snapshot flushes it first
      const s = await vols.snapshot(v, 's1');
      assert.equal(s.name, 's1');
      assert.equal(await used(), before, 'a snapshot copies nothing');
      assert.deepEqual((await vols.get(v)).snapshots.map((x) => x.name), ['s1']);
      await rejectsErrno(vols.snapshot(v, 's1'), Errno.EEXIST);
      const neu = randomBytes(M);
      await vol.write(0, neu);
      await vol.flush();
      assert.equal(await used(), before + M, 'the snapshot holds the old records');
      const snap = await vols.open(`${v}@s1`);
      assert.equal(snap.readOnly, true);
      assert.ok((await snap.read(0, M)).equals(old));
      assert.ok((await vol.read(0, M)).equals(neu));
      await rejectsErrno(snap.write(0, Buffer.alloc(512)), Errno.EROFS);
      await rejectsErrno(snap.unmap(0, 512), Errno.EROFS);
      await rejectsErrno(vols.deleteSnapshot(v, 's1'), Errno.EBUSY);
      await snap.close();
      const ro = await vols.open(v, { readOnly: true });
      await rejectsErrno(ro.write(0, Buffer.alloc(512)), Errno.EROFS);
      await ro.close();
      await vols.deleteSnapshot(v, 's1');
      assert.equal(await used(), before, 'the old records are freed');
      await rejectsErrno(vols.deleteSnapshot(v, 's1'), Errno.ENOENT);
      await rejectsErrno(vols.open(`${v}@s1`), Errno.ENOENT);
      assert.ok((await vol.read(0, M)).equals(neu));
      await vol.close();
      await vols.delete(v);
    });

    test('a clone shares blocks and is independent of its origin both ways', async () => {
      const v = fresh(), c = fresh();
      await vols.create(v, { sizeBytes: M, recordSize: 16 * K });
      const vol = await vols.open(v);
      const a = randomBytes(M);
      await vol.write(0, a);
      await vols.snapshot(v, 'base');
      const before = await used();
      await rejectsErrno(vols.clone(v, c), Errno.EINVAL);
      const info = await vols.clone(`${v}@base`, c);
      assert.equal(info.origin, `${v}@base`);
      assert.equal(info.recordSize, 16 * K);
      assert.equal(info.sizeBytes, M);
      assert.equal(await used(), before, 'no data copied');
      await rejectsErrno(vols.clone(`${v}@base`, c), Errno.EEXIST);
      const cl = await vols.open(c);
      assert.ok((await cl.read(0, M)).equals(a));
      await cl.write(512, Buffer.alloc(1024, 7));
      await vol.write(4096, Buffer.alloc(512, 9));
      assert.ok((await vol.read(512, 1024)).equals(a.subarray(512, 1536)), 'the origin does not see the clone\'s write');
      assert.ok((await cl.read(4096, 512)).equals(a.subarray(4096, 4608)), 'the clone does not see the origin\'s write');
      assert.ok((await cl.read(512, 1024)).equals(Buffer.alloc(1024, 7)));
      await vol.close();
      // The origin's snapshot and the origin itself may go; the clone keeps its bytes.
      await rejectsErrno(vols.delete(v), Errno.EBUSY);
      await vols.delete(v, { recursive: true });
      await rejectsErrno(vols.get(v), Errno.ENOENT);
      const expect = Buffer.from(a);
      Buffer.alloc(1024, 7).copy(expect, 512);
      await cl.flush();
      assert.ok((await cl.read(0, M)).equals(expect));
      await cl.close();
      await vols.delete(c);
    });

    test('rollback: the volume back to a snapshot (bytes, size, used), newest only unless destroying newer ones', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M, recordSize: 16 * K });
      let vol = await vols.open(v);
      const a = randomBytes(512 * K);
      await vol.write(0, a);
      await vol.close();
      await vols.snapshot(v, 'a');
      const atA = await used();
      const usedA = (await vols.get(v)).usedBytes;
      vol = await vols.open(v);
      await vol.write(256 * K + 512, randomBytes(300 * K)); // overwrites and new records
      await vol.unmap(0, 64 * K);
      await vol.close();
      await vols.resize(v, 2 * M);
      await vols.snapshot(v, 'b');
      vol = await vols.open(v);
      await vol.write(M, randomBytes(64 * K));
      await rejectsErrno(vols.rollback(v, 'a'), Errno.EBUSY); // open
      await vol.close();
      await rejectsErrno(vols.rollback(v, 'a'), Errno.EBUSY); // b is newer
      await rejectsErrno(vols.rollback(v, 'nope'), Errno.ENOENT);
      const heard: string[] = [];
      const stop = vols.watch((name, what) => heard.push(`${name}:${what}`));
      assert.deepEqual(await vols.rollback(v, 'a', { destroyNewer: true }), { destroyed: ['b'] });
      stop();
      assert.deepEqual(heard, [`${v}:resize`]);
      const info = await vols.get(v);
      assert.equal(info.sizeBytes, M);
      assert.equal(info.usedBytes, usedA);
      assert.deepEqual(info.snapshots.map((s) => s.name), ['a']);
      vol = await vols.open(v);
      assert.ok((await vol.read(0, M)).equals(Buffer.concat([a, Buffer.alloc(M - 512 * K)])));
      await vol.write(0, Buffer.alloc(512, 1)); // writable again; the snapshot keeps a
      await vol.close();
      const snap = await vols.open(`${v}@a`);
      assert.ok((await snap.read(0, 512 * K)).equals(a));
      await snap.close();
      assert.ok(await used() <= atA + 16 * K, 'the blocks written after the snapshot are freed');
      await vols.delete(v, { recursive: true });
      assert.equal(await used(), atA - 512 * K);
    });

    test('delete: EBUSY while open or with snapshots, recursive takes the snapshots', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      await vol.write(0, randomBytes(256 * K));
      await rejectsErrno(vols.delete(v), Errno.EBUSY);
      await vol.close();
      await vols.snapshot(v, 'a');
      await vols.snapshot(v, 'b');
      const base = await used();
      await rejectsErrno(vols.delete(v), Errno.EBUSY);
      await vols.delete(v, { recursive: true });
      assert.equal(await used(), base - 256 * K, 'every block of the volume and its snapshots is freed');
      // The name is free again, with no snapshot left over.
      assert.deepEqual((await vols.create(v, { sizeBytes: M })).snapshots, []);
      await vols.delete(v);
    });

    test('resize of an open volume: handles see the new size, watchers hear it, shrinking drops data', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const heard: string[] = [];
      const stop = vols.watch((name, what) => heard.push(`${name}:${what}`));
      const vol = await vols.open(v);
      const data = randomBytes(M);
      await vol.write(0, data);
      await vols.resize(v, 2 * M);
      assert.equal(vol.sizeBytes, 2 * M);
      assert.ok((await vol.read(0, 2 * M)).equals(Buffer.concat([data, Buffer.alloc(M)])));
      await vol.write(2 * M - 512, Buffer.alloc(512, 1));
      await vols.resize(v, 512 * K);
      assert.equal(vol.sizeBytes, 512 * K);
      await rejectsErrno(vol.read(512 * K, 512), Errno.EINVAL);
      assert.equal((await vols.get(v)).usedBytes, 512 * K);
      await vols.resize(v, M);
      assert.ok((await vol.read(0, M)).equals(Buffer.concat([data.subarray(0, 512 * K), Buffer.alloc(512 * K)])), 'grown back: zeros, not the old bytes');
      await vol.close();
      await vols.delete(v);
      stop();
      assert.deepEqual(heard, [`${v}:resize`, `${v}:resize`, `${v}:resize`, `${v}:delete`]);
    });

    test('concurrent 512-byte writes into the same records all land (iSCSI sends many at once)', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M, recordSize: 4 * K });
      const vol = await vols.open(v);
      const model = Buffer.alloc(M);
      for (let round = 0; round < 12; round++) {
        const base = round * 64 * K;
        const jobs: Promise<void>[] = [];
        for (let rec = 0; rec < 16; rec++) {
          for (const sector of [7, 0, 3, 5, 1, 6, 2, 4]) { // the one that reaches the record's end first
            const at = base + rec * 4 * K + sector * 512;
            const data = Buffer.alloc(512, 1 + ((round * 16 + rec + sector) % 250));
            data.copy(model, at);
            jobs.push(vol.write(at, data));
          }
        }
        await Promise.all(jobs);
      }
      await vol.flush();
      assert.ok((await vol.read(0, M)).equals(model));
      await vol.close();
      await vols.delete(v);
    });

    test('a shrink while writes are under way: none lands past the new end', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: 2 * M, recordSize: 4 * K });
      const vol = await vols.open(v);
      const writes = Array.from({ length: 64 }, (_, i) => vol.write(M + i * 16 * K + 512, Buffer.alloc(8 * K, i + 1)).then(() => 'ok', (e: VfsError) => Errno[e.errno]));
      const shrink = vols.resize(v, M);
      const more = Array.from({ length: 8 }, (_, i) => vol.write(M - 4 * K + i * 512, Buffer.alloc(512, 9)).then(() => 'ok', (e: VfsError) => Errno[e.errno]));
      await shrink;
      const results = await Promise.all([...writes, ...more]);
      assert.ok(results.every((r) => r === 'ok' || r === 'EINVAL'), results.join(','));
      assert.ok(results.slice(64).every((r) => r === 'ok'), 'writes inside the new size succeed');
      await vol.flush();
      assert.equal(vol.sizeBytes, M);
      assert.equal((await vols.get(v)).sizeBytes, M, 'the volume did not grow back');
      assert.ok((await vol.read(M - 4 * K, 4 * K)).equals(Buffer.alloc(4 * K, 9)), 'the writes inside are there');
      await vols.resize(v, 2 * M);
      assert.ok((await vol.read(M, M)).equals(Buffer.alloc(M)), 'nothing past the old end came back');
      await vol.close();
      await vols.delete(v);
    });

    test('thick: every record allocated at creation and on growth', async () => {
      const v = fresh();
      const before = await used();
      const info = await vols.create(v, { sizeBytes: 512 * K, thick: true });
      assert.equal(info.thick, true);
      assert.equal(info.usedBytes, 512 * K);
      assert.equal(await used(), before + 512 * K, 'zeros are stored, not compressed or deduplicated away');
      assert.equal((await vols.resize(v, M)).usedBytes, M);
      const vol = await vols.open(v);
      assert.ok((await vol.read(0, M)).equals(Buffer.alloc(M)));
      assert.deepEqual(await vol.mapping(0, M), [{ offset: 0, length: M, mapped: true }]);
      await vol.close();
      await vols.delete(v);
      assert.equal(await used(), before);
    });

    test('no file protocol reaches a volume or its snapshots', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      await vol.write(0, Buffer.alloc(4096, 3));
      await vol.close();
      await vols.snapshot(v, 'hidden');
      const { vfs, paths } = fx.inst;
      const names = (await paths.readdir(ROOT_CTX, '/')).map((e) => e.name);
      assert.ok(!names.some((x) => x.includes(v)), `root lists ${names.join(', ')}`);
      await rejectsErrno(vfs.lookup(ROOT_CTX, 1, v), Errno.ENOENT);
      await rejectsErrno(vfs.lookupCaseless(ROOT_CTX, 1, v), Errno.ENOENT);
      assert.ok(!vfs.listSnapshots().some((s) => s.name.includes('hidden')));
      assert.ok(!fx.inst.snapshots.list().some((s) => s.name.includes('hidden')));
      const snapdir = (await paths.readdir(ROOT_CTX, `/${SNAPDIR_NAME}`)).map((e) => e.name);
      assert.ok(!snapdir.some((x) => x.includes('hidden')), `/.snapshots lists ${snapdir.join(', ')}`);
      await rejectsErrno(paths.stat(ROOT_CTX, `/${SNAPDIR_NAME}/volume`), Errno.ENOENT);
      await rejectsErrno(fx.inst.snapshots.delete(`volume/${v}@hidden`), Errno.ENOENT);
      // Its inode number answers ESTALE (an NFS handle could name it).
      const ino = (JSON.parse((await fx.inst.impl.meta.kv.get(Buffer.from(`V${v}`)))!.toString()) as { ino: number }).ino;
      await rejectsErrno(vfs.getattr(ROOT_CTX, ino), Errno.ESTALE);
      await rejectsErrno(vfs.open(ROOT_CTX, ino, { read: true }), Errno.ESTALE);
      await vols.delete(v, { recursive: true });
    });

    test('tree and volume snapshots keep apart: neither holds the other\'s blocks; a rollback leaves volumes alone', async () => {
      const v = fresh();
      await vols.create(v, { sizeBytes: M });
      const vol = await vols.open(v);
      const a = randomBytes(M);
      await vol.write(0, a);
      await vol.flush();
      const { paths } = fx.inst;
      const f = await paths.open(ROOT_CTX, `/${v}-file`, { write: true, create: true }, 0o644);
      await fx.inst.vfs.write(ROOT_CTX, f.fh, 0, randomBytes(M));
      await fx.inst.vfs.release(ROOT_CTX, f.fh);
      await vols.snapshot(v, 'vs');
      const tree = `${v}-tree`;
      await fx.inst.snapshots.create(tree);
      const base = await used();
      // A file deleted after a volume-only snapshot... is still held by the tree snapshot; the
      // volume's overwrite is held by the volume snapshot only.
      await vol.write(0, randomBytes(M));
      await vol.flush();
      assert.equal(await used(), base + M);
      await fx.inst.snapshots.delete(tree);
      assert.equal(await used(), base + M, 'the tree snapshot held no volume block');
      await paths.unlink(ROOT_CTX, `/${v}-file`);
      assert.equal(await used(), base, 'the volume snapshot held no file block');
      await vols.deleteSnapshot(v, 'vs');
      assert.equal(await used(), base - M);
      // Rollback of the tree: the volume keeps its bytes and its usage counts.
      const b = randomBytes(M);
      await vol.write(0, b);
      await vol.flush();
      await fx.inst.snapshots.create(tree);
      const c = randomBytes(256 * K);
      await vol.write(0, c);
      await vol.flush();
      const other = fresh();
      await vols.create(other, { sizeBytes: M });
      const ov = await vols.open(other);
      await ov.write(0, Buffer.alloc(64 * K, 5));
      await ov.close();
      const usage = (await fx.inst.impl.meta.usage()).usedBytes;
      await fx.inst.snapshots.rollback(tree);
      assert.equal((await fx.inst.impl.meta.usage()).usedBytes, usage, 'used bytes recounted, volumes included');
      assert.ok((await vol.read(0, 256 * K)).equals(c));
      const ov2 = await vols.open(other);
      assert.ok((await ov2.read(0, 64 * K)).equals(Buffer.alloc(64 * K, 5)), 'a volume made after the snapshot survives the rollback');
      await ov2.close();
      await fx.inst.snapshots.delete(tree);
      await vol.close();
      await vols.delete(v);
      await vols.delete(other);
    });

    test('flushed data, snapshots and clones survive a reopen of the engines', async (t) => {
      if (!fx.reopen) return t.skip('memory engines are not durable');
      const v = fresh();
      await vols.create(v, { sizeBytes: M, recordSize: 4 * K });
      const vol = await vols.open(v);
      const a = randomBytes(M);
      await vol.write(0, a);
      await vol.flush();
      await vols.snapshot(v, 'keep');
      const b = randomBytes(8 * K);
      await vol.write(3584, b, { fua: true });
      await vols.clone(`${v}@keep`, `${v}-c`);
      fx.inst = await fx.reopen();
      vols = openVolumes(fx.inst);
      const expect = Buffer.from(a);
      b.copy(expect, 3584);
      const again = await vols.open(v);
      assert.ok((await again.read(0, M)).equals(expect));
      const snap = await vols.open(`${v}@keep`);
      assert.ok((await snap.read(0, M)).equals(a));
      const cl = await vols.open(`${v}-c`);
      assert.ok((await cl.read(0, M)).equals(a));
      assert.equal((await vols.get(v)).snapshots[0]!.name, 'keep');
      await rejectsErrno(fx.inst.vfs.lookup(ROOT_CTX, 1, v), Errno.ENOENT);
      await Promise.all([again.close(), snap.close(), cl.close()]);
      await vols.delete(v, { recursive: true });
      await vols.delete(`${v}-c`);
    });
  });
}
