/**
 * vfsSuite: the behaviour every VFS instance must show, whatever its engines. Call it with a
 * factory; it is run against the memory engines and against RocksDB + the erasure-coded pool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rejectsErrno, type VfsFixture } from './fixtures.js';
import type { Ctx, VfsInstance } from '../../vfs/index.js';
import { Errno, ROOT_CTX, VfsError } from '../../vfs/index.js';

const alice: Ctx = { uid: 1001, gid: 1001, groups: [], clientId: 'test:alice' };
const bob: Ctx = { uid: 1002, gid: 1002, groups: [], clientId: 'test:bob' };
const carol: Ctx = { uid: 1003, gid: 1003, groups: [1001], clientId: 'test:carol' };

export type { VfsFixture };

export function vfsSuite(name: string, factory: () => Promise<VfsFixture>): void {
  describe(`vfsSuite: ${name}`, () => {
    let fx: VfsFixture;
    let n = 0;
    before(async () => { fx = await factory(); });
    after(async () => { await fx.cleanup(); });
    /** A fresh directory owned by alice (mode 0755) for each test. */
    const home = async () => {
      const { vfs, paths } = fx.inst;
      const dir = `/t${++n}`;
      const a = await paths.mkdir(ROOT_CTX, dir, 0o755);
      await vfs.setattr(ROOT_CTX, a.ino, { uid: alice.uid, gid: alice.gid });
      return { dir, ino: a.ino };
    };
    const writeFile = async (ctx: Ctx, path: string, data: Buffer) => {
      const { vfs, paths } = fx.inst;
      const { fh } = await paths.open(ctx, path, { write: true, create: true, truncate: true });
      await vfs.write(ctx, fh, 0, data);
      await vfs.release(ctx, fh);
    };
    const readFile = async (ctx: Ctx, path: string) => {
      const { vfs, paths } = fx.inst;
      const { fh, attr } = await paths.open(ctx, path, { read: true });
      const b = await vfs.read(ctx, fh, 0, attr.size + 1);
      await vfs.release(ctx, fh);
      return b;
    };

    test('round trip of sizes around record boundaries', async () => {
      const { dir } = await home();
      for (const size of [0, 1, 4095, 4096, 65537, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]) {
        const data = randomBytes(size);
        await writeFile(alice, `${dir}/f${size}`, data);
        const back = await readFile(alice, `${dir}/f${size}`);
        assert.equal(back.length, size);
        assert.ok(back.equals(data), `content of ${size} bytes`);
        assert.equal((await fx.inst.paths.stat(alice, `${dir}/f${size}`)).size, size);
      }
    });

    test('a read\'s bytes stay as read when the file is written again (reads may share cached blocks)', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      const path = `${dir}/shared`;
      const data = randomBytes(3 * (1 << 20));
      await writeFile(alice, path, data);
      const { fh } = await paths.open(alice, path, { read: true, write: true });
      // Whole records, parts of one record, and a range across two.
      const ranges: [number, number][] = [[0, 1 << 20], [1 << 20, 1 << 20], [(1 << 20) + 100, 5000], [(1 << 20) - 10, 20]];
      const got = await Promise.all(ranges.map(([off, len]) => vfs.read(alice, fh, off, len)));
      ranges.forEach(([off, len], i) => assert.ok(got[i]!.equals(data.subarray(off, off + len)), `range ${off}+${len}`));
      await vfs.write(alice, fh, 0, Buffer.alloc(2 << 20, 0xab));
      await vfs.fsync(alice, fh, false);
      ranges.forEach(([off, len], i) => assert.ok(got[i]!.equals(data.subarray(off, off + len)), `range ${off}+${len} after the overwrite`));
      const again = await vfs.read(alice, fh, (1 << 20) + 100, 5000);
      assert.ok(again.equals(Buffer.alloc(5000, 0xab)), 'a new read sees the new bytes');
      // Two readers of the same range: one modifying its copy in place (as a caller with `into` may) does not change the other's.
      const into = Buffer.alloc(1 << 20);
      const a = await vfs.read(alice, fh, 2 << 20, 1 << 20, into);
      a.fill(0);
      assert.ok((await vfs.read(alice, fh, 2 << 20, 1 << 20)).equals(data.subarray(2 << 20, 3 << 20)));
      await vfs.release(alice, fh);
    });

    test('random-offset writes, overwrite and sparse holes read back as a model buffer', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      const model = Buffer.alloc(3 << 20);
      let size = 0;
      const { fh } = await paths.open(alice, `${dir}/r`, { read: true, write: true, create: true });
      for (let i = 0; i < 60; i++) {
        const off = Math.floor(Math.random() * (model.length - 70000));
        const len = 1 + Math.floor(Math.random() * 70000);
        const d = randomBytes(len);
        await vfs.write(alice, fh, off, d);
        d.copy(model, off);
        size = Math.max(size, off + len);
        if (i % 7 === 0) await vfs.flush(alice, fh);
      }
      const mid = await vfs.read(alice, fh, 0, model.length);
      assert.ok(mid.equals(model.subarray(0, size)));
      await vfs.release(alice, fh);
      assert.ok((await readFile(alice, `${dir}/r`)).equals(model.subarray(0, size)));
    });

    test('concurrent small writes into the same records all land (NFS and iSCSI send many at once)', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      const { fh } = await paths.open(alice, `${dir}/c`, { read: true, write: true, create: true });
      const size = 4 << 20;
      await vfs.setattr(alice, (await paths.stat(alice, `${dir}/c`)).ino, { size }, true); // records inside the size are read-modify-write
      const model = Buffer.alloc(size);
      const piece = 8192;
      for (let round = 0; round < 4; round++) {
        const jobs: Promise<number>[] = [];
        // Within each 64 KiB the last piece first: it reaches the record's end before the others land.
        for (let at = round * (1 << 20); at < (round + 1) * (1 << 20); at += 1 << 16) {
          for (let k = 7; k >= 0; k--) {
            const off = at + ((k * 3) % 8) * piece;
            const d = Buffer.alloc(piece, 1 + ((off / piece) % 251));
            d.copy(model, off);
            jobs.push(vfs.write(alice, fh, off, d));
          }
        }
        await Promise.all(jobs);
      }
      await vfs.release(alice, fh);
      assert.ok((await readFile(alice, `${dir}/c`)).equals(model));
    });

    test('truncate down then up reads zeros past the cut', async () => {
      const { dir } = await home();
      const data = randomBytes(2_500_000);
      await writeFile(alice, `${dir}/t`, data);
      await fx.inst.paths.setattr(alice, `${dir}/t`, { size: 1_200_000 });
      await fx.inst.paths.setattr(alice, `${dir}/t`, { size: 2_000_000 });
      const back = await readFile(alice, `${dir}/t`);
      assert.equal(back.length, 2_000_000);
      assert.ok(back.subarray(0, 1_200_000).equals(data.subarray(0, 1_200_000)));
      assert.ok(back.subarray(1_200_000).every((b) => b === 0));
    });

    test('append handles write at the end', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      await writeFile(alice, `${dir}/log`, Buffer.from('one\n'));
      const { fh } = await paths.open(alice, `${dir}/log`, { append: true });
      await vfs.write(alice, fh, 0, Buffer.from('two\n'));
      await vfs.release(alice, fh);
      assert.equal((await readFile(alice, `${dir}/log`)).toString(), 'one\ntwo\n');
    });

    test('permissions: other users cannot write a 0644 file or create in a 0755 dir', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/mine`, Buffer.from('x'));
      await rejectsErrno(paths.open(bob, `${dir}/mine`, { write: true }), Errno.EACCES);
      assert.equal((await readFile(bob, `${dir}/mine`)).toString(), 'x');
      await rejectsErrno(paths.open(bob, `${dir}/new`, { write: true, create: true }), Errno.EACCES);
      await paths.setattr(alice, `${dir}/mine`, { mode: 0o600 });
      await rejectsErrno(paths.open(bob, `${dir}/mine`, { read: true }), Errno.EACCES);
      await rejectsErrno(paths.setattr(bob, `${dir}/mine`, { mode: 0o777 }), Errno.EPERM);
    });

    test('group permissions through supplementary groups', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/g`, Buffer.from('g'));
      await paths.setattr(alice, `${dir}/g`, { mode: 0o660 });
      await writeFile(carol, `${dir}/g`, Buffer.from('carol'));
      await rejectsErrno(paths.open(bob, `${dir}/g`, { read: true }), Errno.EACCES);
    });

    test('chown rules: only root gives files away; owner may change group to one of theirs', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/c`, Buffer.from('c'));
      await rejectsErrno(paths.setattr(alice, `${dir}/c`, { uid: bob.uid }), Errno.EPERM);
      await rejectsErrno(paths.setattr(alice, `${dir}/c`, { gid: bob.gid }), Errno.EPERM);
      await paths.setattr(alice, `${dir}/c`, { mode: 0o6755 });
      const a = await paths.setattr(ROOT_CTX, `${dir}/c`, { uid: bob.uid });
      assert.equal(a.uid, bob.uid);
      assert.equal(a.mode & 0o4000, 0, 'chown clears setuid');
    });

    test('sticky directory: only the owner removes an entry', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await paths.setattr(alice, dir, { mode: 0o1777 });
      await writeFile(bob, `${dir}/bobs`, Buffer.from('b'));
      await rejectsErrno(paths.unlink(carol, `${dir}/bobs`), Errno.EPERM);
      await paths.unlink(alice, `${dir}/bobs`); // the directory's owner may
      await writeFile(bob, `${dir}/bobs2`, Buffer.from('b'));
      await paths.unlink(bob, `${dir}/bobs2`);
    });

    test('setgid directory passes its group on and new subdirectories keep the bit', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await paths.setattr(alice, dir, { mode: 0o2777 });
      await writeFile(bob, `${dir}/f`, Buffer.alloc(0));
      assert.equal((await paths.stat(bob, `${dir}/f`)).gid, alice.gid);
      const sub = await paths.mkdir(bob, `${dir}/sub`, 0o755);
      assert.equal(sub.gid, alice.gid);
      assert.equal(sub.mode & 0o2000, 0o2000);
    });

    test('rename: replace, errors, directories and link counts', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/a`, Buffer.from('A'));
      await writeFile(alice, `${dir}/b`, Buffer.from('B'));
      await paths.rename(alice, `${dir}/a`, `${dir}/b`);
      assert.equal((await readFile(alice, `${dir}/b`)).toString(), 'A');
      await rejectsErrno(paths.stat(alice, `${dir}/a`), Errno.ENOENT);
      await paths.mkdir(alice, `${dir}/d1`);
      await paths.mkdir(alice, `${dir}/d2`);
      await writeFile(alice, `${dir}/d2/x`, Buffer.from('x'));
      await rejectsErrno(paths.rename(alice, `${dir}/d1`, `${dir}/d2`), Errno.ENOTEMPTY);
      await rejectsErrno(paths.rename(alice, `${dir}/b`, `${dir}/d1`), Errno.EISDIR);
      await rejectsErrno(paths.rename(alice, `${dir}/d1`, `${dir}/b`), Errno.ENOTDIR);
      await rejectsErrno(paths.rename(alice, `${dir}/d2`, `${dir}/d2/inside`), Errno.EINVAL);
      await rejectsErrno(paths.rename(alice, `${dir}/b`, `${dir}/d2/x`, { noreplace: true }), Errno.EEXIST);
      const before = (await paths.stat(alice, dir)).nlink;
      await paths.rename(alice, `${dir}/d1`, `${dir}/d2/d1`);
      assert.equal((await paths.stat(alice, dir)).nlink, before - 1);
      assert.equal((await paths.stat(alice, `${dir}/d2`)).nlink, 3);
      await paths.rmdir(alice, `${dir}/d2/d1`);
      await rejectsErrno(paths.rmdir(alice, `${dir}/d2`), Errno.ENOTEMPTY);
    });

    test('hard links share the inode; data lives until the last link goes', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/orig`, Buffer.from('shared'));
      const l = await paths.link(alice, `${dir}/orig`, `${dir}/alias`);
      assert.equal(l.nlink, 2);
      assert.equal(l.ino, (await paths.stat(alice, `${dir}/orig`)).ino);
      await paths.unlink(alice, `${dir}/orig`);
      assert.equal((await readFile(alice, `${dir}/alias`)).toString(), 'shared');
      assert.equal((await paths.stat(alice, `${dir}/alias`)).nlink, 1);
      await rejectsErrno(paths.link(alice, dir, `${dir}/dirlink`), Errno.EPERM);
    });

    test('unlink of an open file: reads go on until release, then the inode is gone', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      await writeFile(alice, `${dir}/open`, Buffer.from('still here'));
      const { fh, attr } = await paths.open(alice, `${dir}/open`, { read: true });
      await paths.unlink(alice, `${dir}/open`);
      assert.equal((await vfs.read(alice, fh, 0, 100)).toString(), 'still here');
      await vfs.release(alice, fh);
      await rejectsErrno(vfs.getattr(alice, attr.ino), Errno.ESTALE);
    });

    test('symlinks resolve inside the export and loops give ELOOP', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/target`, Buffer.from('t'));
      await paths.symlink(alice, 'target', `${dir}/rel`);
      await paths.symlink(alice, `${dir}/target`, `${dir}/abs`);
      await paths.symlink(alice, '../../../../../../..', `${dir}/up`);
      assert.equal((await readFile(alice, `${dir}/rel`)).toString(), 't');
      assert.equal((await readFile(alice, `${dir}/abs`)).toString(), 't');
      assert.equal((await paths.stat(alice, `${dir}/up`)).ino, 1, '.. past the root stays at the root');
      assert.equal(await paths.readlink(alice, `${dir}/rel`), 'target');
      assert.equal((await paths.lstat(alice, `${dir}/rel`)).type, 'symlink');
      await paths.symlink(alice, 'loop2', `${dir}/loop1`);
      await paths.symlink(alice, 'loop1', `${dir}/loop2`);
      await rejectsErrno(paths.stat(alice, `${dir}/loop1`), Errno.ELOOP);
    });

    test('names: too long, NUL, dot entries; paths never leave the export', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await rejectsErrno(paths.mkdir(alice, `${dir}/${'x'.repeat(256)}`), Errno.ENAMETOOLONG);
      await rejectsErrno(paths.mkdir(alice, `${dir}/a\0b`), Errno.EINVAL);
      await paths.mkdir(alice, `${dir}/${'y'.repeat(255)}`);
      assert.equal(paths.normalize('/../../etc/./passwd'), '/etc/passwd');
      assert.equal(paths.normalize('a/b/../../..'), '/');
      await rejectsErrno(paths.stat(alice, '/../../etc/passwd'), Errno.ENOENT);
    });

    test('readdir pages with stable cookies and readdirplus attributes', async () => {
      const { dir, ino } = await home();
      const { vfs, paths } = fx.inst;
      for (let i = 0; i < 50; i++) await writeFile(alice, `${dir}/e${i}`, Buffer.from(String(i)));
      const seen: string[] = [];
      for (let cookie = 0; ; ) {
        const page = await vfs.readdir(alice, ino, cookie, 7, true);
        if (!page.length) break;
        for (const e of page) { seen.push(e.name); assert.equal(e.attr?.size, String(e.name.slice(1)).length); }
        cookie = page[page.length - 1]!.cookie;
      }
      assert.deepEqual(seen.sort(), Array.from({ length: 50 }, (_, i) => `e${i}`).sort());
      assert.equal((await paths.readdir(alice, dir)).length, 50);
      await rejectsErrno(vfs.readdir(bob, (await paths.mkdir(alice, `${dir}/priv`, 0o700)).ino, 0, 10), Errno.EACCES);
    });

    test('xattrs: user namespace with flags and permissions', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/x`, Buffer.from('x'));
      const ino = (await paths.stat(alice, `${dir}/x`)).ino;
      await vfs.setxattr(alice, ino, 'user.color', Buffer.from('blue'));
      await rejectsErrno(vfs.setxattr(alice, ino, 'user.color', Buffer.from('red'), { create: true }), Errno.EEXIST);
      await rejectsErrno(vfs.setxattr(alice, ino, 'user.none', Buffer.from('red'), { replace: true }), Errno.ENODATA);
      assert.equal((await vfs.getxattr(bob, ino, 'user.color')).toString(), 'blue');
      await rejectsErrno(vfs.setxattr(bob, ino, 'user.color', Buffer.from('x')), Errno.EACCES);
      await rejectsErrno(vfs.setxattr(alice, ino, 'trusted.x', Buffer.from('x')), Errno.EPERM);
      await rejectsErrno(vfs.setxattr(alice, ino, 'bogus', Buffer.from('x')), Errno.EOPNOTSUPP);
      await rejectsErrno(vfs.setxattr(alice, ino, 'security.capability', Buffer.from('x')), Errno.EOPNOTSUPP); // no file capabilities
      await rejectsErrno(vfs.getxattr(alice, ino, 'security.capability'), Errno.ENODATA);
      await vfs.setxattr(alice, ino, 'security.other', Buffer.from('kept'));
      await vfs.removexattr(alice, ino, 'security.other');
      assert.deepEqual(await vfs.listxattr(alice, ino), ['user.color']);
      await vfs.removexattr(alice, ino, 'user.color');
      await rejectsErrno(vfs.getxattr(alice, ino, 'user.color'), Errno.ENODATA);
    });

    test('copy shares blocks and keeps content; removeTree removes everything', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await paths.mkdir(alice, `${dir}/src`);
      await paths.mkdir(alice, `${dir}/src/sub`);
      const big = randomBytes(1_500_000);
      await writeFile(alice, `${dir}/src/sub/big`, big);
      await paths.symlink(alice, 'sub/big', `${dir}/src/ln`);
      await paths.copy(alice, `${dir}/src`, `${dir}/dst`, { overwrite: false, depth: 'infinity' });
      assert.ok((await readFile(alice, `${dir}/dst/sub/big`)).equals(big));
      assert.equal(await paths.readlink(alice, `${dir}/dst/ln`), 'sub/big');
      await rejectsErrno(paths.copy(alice, `${dir}/src`, `${dir}/dst`, { overwrite: false, depth: 'infinity' }), Errno.EEXIST);
      await rejectsErrno(paths.copy(alice, `${dir}/src`, `${dir}/src/sub/in`, { overwrite: true, depth: 'infinity' }), Errno.EINVAL);
      await paths.removeTree(alice, `${dir}/src`);
      assert.ok((await readFile(alice, `${dir}/dst/sub/big`)).equals(big), 'copy survives removal of the source');
      await rejectsErrno(paths.stat(alice, `${dir}/src`), Errno.ENOENT);
    });

    test('utimens: explicit times by the owner only, now by writers', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/u`, Buffer.from('u'));
      const a = await paths.setattr(alice, `${dir}/u`, { mtimeNs: 1_000_000_000n, atimeNs: 2_000_000_000n });
      assert.equal(a.mtimeNs, 1_000_000_000n);
      assert.equal(a.atimeNs, 2_000_000_000n);
      await rejectsErrno(paths.setattr(bob, `${dir}/u`, { mtimeNs: 5n }), Errno.EPERM);
      await rejectsErrno(paths.setattr(bob, `${dir}/u`, { mtimeNs: 'now' }), Errno.EACCES);
      await paths.setattr(alice, `${dir}/u`, { mode: 0o666 });
      assert.ok((await paths.setattr(bob, `${dir}/u`, { mtimeNs: 'now' })).mtimeNs > 1_000_000_000n);
    });

    test('mayDelete answers what unlink would, and removes nothing', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/m`, Buffer.from('m'));
      const parent = (await paths.stat(alice, dir)).ino;
      await vfs.mayDelete(alice, parent, 'm');
      assert.equal((await paths.stat(alice, `${dir}/m`)).size, 1, 'still there');
      await rejectsErrno(vfs.mayDelete(alice, parent, 'absent'), Errno.ENOENT);
      await paths.setattr(alice, dir, { mode: 0o755 });
      await rejectsErrno(vfs.mayDelete(bob, parent, 'm'), Errno.EACCES);
    });

    test('creation and change times set on purpose (SMB), by the owner only; times outside 64-bit ns are EINVAL', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/b`, Buffer.from('b'));
      const a = await paths.setattr(alice, `${dir}/b`, { birthtimeNs: -63_158_400_000_000_000n, ctimeNs: 7_000_000_000n, mtimeNs: 3_000_000_000n });
      assert.equal(a.birthtimeNs, -63_158_400_000_000_000n, 'before 1970 too');
      assert.equal(a.ctimeNs, 7_000_000_000n, 'the change time asked for, not now');
      assert.equal(a.mtimeNs, 3_000_000_000n);
      const again = await paths.stat(alice, `${dir}/b`);
      assert.equal(again.birthtimeNs, -63_158_400_000_000_000n);
      await rejectsErrno(paths.setattr(bob, `${dir}/b`, { birthtimeNs: 5n }), Errno.EPERM);
      await rejectsErrno(paths.setattr(bob, `${dir}/b`, { ctimeNs: 5n }), Errno.EPERM);
      await rejectsErrno(paths.setattr(alice, `${dir}/b`, { mtimeNs: 15_032_385_535n * 1_000_000_000n }), Errno.EINVAL);
      await rejectsErrno(paths.setattr(alice, `${dir}/b`, { birthtimeNs: -(1n << 64n) }), Errno.EINVAL);
      assert.equal((await paths.stat(alice, `${dir}/b`)).mtimeNs, 3_000_000_000n, 'a refused change changes nothing');
    });

    test('byte-range locks conflict across clients, share for readers, and split on unlock', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/l`, Buffer.alloc(100));
      const ino = (await paths.stat(alice, `${dir}/l`)).ino;
      await vfs.lock(alice, ino, { type: 'write', start: 0, end: 50, owner: 'p1' });
      await rejectsErrno(vfs.lock(bob, ino, { type: 'read', start: 40, end: 60, owner: 'p2' }), Errno.EAGAIN);
      await vfs.lock(bob, ino, { type: 'read', start: 50, end: 60, owner: 'p2' });
      await vfs.lock(carol, ino, { type: 'read', start: 55, end: 70, owner: 'p3' });
      assert.equal((await vfs.testlock(bob, ino, { type: 'write', start: 10, end: 11, owner: 'p2' }))?.clientId, alice.clientId);
      await vfs.unlock(alice, ino, { start: 0, end: 20, owner: 'p1' });
      assert.equal(await vfs.testlock(bob, ino, { type: 'write', start: 0, end: 20, owner: 'p2' }), null);
      const waiting = vfs.lock(bob, ino, { type: 'write', start: 30, end: 40, owner: 'p2' }, true);
      await vfs.unlock(alice, ino, { start: 0, end: Infinity, owner: 'p1' });
      await waiting;
      assert.equal((await vfs.testlock(alice, ino, { type: 'read', start: 35, end: 36, owner: 'p1' }))?.clientId, bob.clientId);
    });

    test('lock waits: woken in arrival order; an aborted wait rejects with its reason and takes nothing', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/w`, Buffer.alloc(10));
      const ino = (await paths.stat(alice, `${dir}/w`)).ino;
      const all = { start: 0, end: Infinity };
      await vfs.lock(alice, ino, { type: 'write', ...all, owner: 'a' });
      const gave = new AbortController();
      const aborted = vfs.lock(bob, ino, { type: 'write', ...all, owner: 'b' }, true, gave.signal);
      const order: string[] = [];
      const second = vfs.lock(carol, ino, { type: 'write', ...all, owner: 'c' }, true).then(() => { order.push('carol'); });
      const third = vfs.lock(bob, ino, { type: 'write', ...all, owner: 'b2' }, true).then(() => { order.push('bob'); });
      gave.abort(new Error('given up'));
      await assert.rejects(aborted, /given up/);
      await vfs.unlock(alice, ino, { ...all, owner: 'a' });
      await second;
      assert.deepEqual(order, ['carol'], 'the first waiter still queued gets it; the aborted one took nothing');
      assert.equal((await vfs.testlock(alice, ino, { type: 'read', start: 0, end: 1, owner: 'a' }))?.clientId, carol.clientId);
      await vfs.unlock(carol, ino, { ...all, owner: 'c' });
      await third;
      assert.deepEqual(order, ['carol', 'bob']);
      await vfs.unlock(bob, ino, { ...all, owner: 'b2' });
      const done = new AbortController();
      done.abort(new Error('too late'));
      await vfs.lock(alice, ino, { type: 'read', ...all, owner: 'a' }, true, done.signal); // no conflict: taken, the signal not looked at
      await rejectsErrno(vfs.lock(bob, ino, { type: 'write', ...all, owner: 'b' }), Errno.EAGAIN);
      await assert.rejects(vfs.lock(bob, ino, { type: 'write', ...all, owner: 'b' }, true, done.signal), /too late/);
      await vfs.unlock(alice, ino, { ...all, owner: 'a' });
    });

    test('statfs reports capacity and usage that moves with data', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      const s0 = await paths.statfs(alice, '/');
      assert.ok(s0.blocks > 0 && s0.bfree <= s0.blocks && s0.namemax === 255);
      await writeFile(alice, `${dir}/big`, randomBytes(2 << 20));
      const s1 = await paths.statfs(alice, '/');
      assert.ok(s1.bfree < s0.bfree, `free space went down (${s0.bfree} -> ${s1.bfree})`);
    });

    const MiB = 1 << 20;
    const recordSizeOf = async (path: string) => (await fx.inst.impl.meta.getInode((await fx.inst.paths.stat(ROOT_CTX, path)).ino))!.recordSize;
    const liveBlocks = async () => (await fx.inst.impl.blocks.stats()).blocks;
    const userBytes = async (ctx: Ctx) => (await fx.inst.impl.meta.getQuota('user', ctx.uid)).usage.bytes;

    test('seekData: data and holes by record, buffered writes included, the end a hole, ENXIO past it, the same in a snapshot', async () => {
      const { dir } = await home();
      const { vfs, paths, snapshots } = fx.inst;
      const path = `${dir}/sparse`;
      const { fh } = await paths.open(alice, path, { read: true, write: true, create: true });
      await vfs.write(alice, fh, 0, Buffer.alloc(100, 1));
      await vfs.write(alice, fh, 8 * MiB, Buffer.alloc(100, 2));
      const rs = await recordSizeOf(path);
      const check = async (when: string) => {
        assert.equal(await vfs.seekData(alice, fh, 0, 'data'), 0, when);
        assert.equal(await vfs.seekData(alice, fh, 0, 'hole'), rs, `${when}: the hole starts after the first record`);
        assert.equal(await vfs.seekData(alice, fh, rs + 3, 'hole'), rs + 3, when);
        assert.equal(await vfs.seekData(alice, fh, 50, 'data'), 50, when);
        assert.equal(await vfs.seekData(alice, fh, rs, 'data'), 8 * MiB, when);
        assert.equal(await vfs.seekData(alice, fh, 5 * MiB + 3, 'data'), 8 * MiB, when);
        assert.equal(await vfs.seekData(alice, fh, 8 * MiB + 5, 'data'), 8 * MiB + 5, when);
        assert.equal(await vfs.seekData(alice, fh, 8 * MiB, 'hole'), 8 * MiB + 100, `${when}: the end of the file is a hole`);
        await rejectsErrno(vfs.seekData(alice, fh, 8 * MiB + 100, 'data'), Errno.ENXIO);
        await rejectsErrno(vfs.seekData(alice, fh, 8 * MiB + 100, 'hole'), Errno.ENXIO);
        await rejectsErrno(vfs.seekData(alice, fh, -1, 'data'), Errno.ENXIO);
      };
      await check('buffered');
      await vfs.flush(alice, fh);
      await check('committed');
      await vfs.write(alice, fh, 4 * MiB + 10, Buffer.from('x'));
      assert.equal(await vfs.seekData(alice, fh, rs, 'data'), 4 * MiB, 'a buffered write into a hole is data at once (from its record\'s start)');
      assert.equal(await vfs.seekData(alice, fh, 4 * MiB, 'hole'), 4 * MiB + rs);
      await vfs.release(alice, fh);
      await paths.setattr(alice, path, { size: 12 * MiB }); // a sparse tail
      const snap = `seek${dir.slice(2)}`;
      await snapshots.create(snap);
      for (const p of [path, `/.snapshots/${snap}${path}`]) {
        const r = await paths.open(alice, p, { read: true });
        assert.equal(await vfs.seekData(alice, r.fh, rs, 'data'), 4 * MiB, p);
        assert.equal(await vfs.seekData(alice, r.fh, 8 * MiB, 'hole'), 8 * MiB + rs, `${p}: the records past the last write are a hole`);
        await rejectsErrno(vfs.seekData(alice, r.fh, 8 * MiB + rs, 'data'), Errno.ENXIO);
        assert.equal(await vfs.seekData(alice, r.fh, 12 * MiB - 1, 'hole'), 12 * MiB - 1);
        await vfs.release(alice, r.fh);
      }
      await snapshots.delete(snap);
    });

    test('punchHole: whole records lose their blocks and quota bytes, edges read as zeros, the size stays; a snapshot keeps the old bytes', async () => {
      const { dir } = await home();
      const { vfs, paths, snapshots } = fx.inst;
      const path = `${dir}/p`;
      const data = randomBytes(3 * MiB + 5000);
      await writeFile(alice, path, data);
      const rs = await recordSizeOf(path);
      const snap = `punch${dir.slice(2)}`;
      await snapshots.create(snap);
      const st0 = await paths.stat(alice, path);
      const q0 = await userBytes(alice);
      const { fh } = await paths.open(alice, path, { read: true, write: true });
      await vfs.punchHole(alice, fh, MiB, MiB); // whole records
      await vfs.punchHole(alice, fh, 100, 900); // inside the first record
      await vfs.punchHole(alice, fh, 3 * MiB + 1000, 1 << 30); // the last record's tail and past the end
      const model = Buffer.from(data);
      model.fill(0, MiB, 2 * MiB);
      model.fill(0, 100, 1000);
      model.fill(0, 3 * MiB + 1000);
      assert.ok((await vfs.read(alice, fh, 0, model.length + 10)).equals(model), 'punched bytes read as zeros, the rest unchanged');
      assert.equal(await vfs.seekData(alice, fh, 0, 'hole'), MiB, 'the punched records are a hole');
      assert.equal(await vfs.seekData(alice, fh, MiB, 'data'), 2 * MiB);
      await rejectsErrno(vfs.punchHole(alice, fh, 0, 0), Errno.EINVAL);
      await rejectsErrno(vfs.punchHole(alice, fh, -1, 10), Errno.EINVAL);
      await vfs.release(alice, fh);
      const st1 = await paths.stat(alice, path);
      assert.equal(st1.size, data.length, 'the size stays');
      assert.equal(st0.blocks - st1.blocks, MiB / 512, 'st_blocks went down by the punched records');
      assert.equal(q0 - (await userBytes(alice)), MiB, 'the owner\'s quota usage went down by the punched bytes');
      assert.ok((await readFile(alice, path)).equals(model), 'after close too');
      const old = await paths.open(alice, `/.snapshots/${snap}${path}`, { read: true });
      assert.ok((await vfs.read(alice, old.fh, 0, data.length)).equals(data), 'the snapshot keeps the punched bytes');
      await rejectsErrno(vfs.punchHole(alice, old.fh, 0, 10), Errno.EROFS);
      await vfs.release(alice, old.fh);
      const ro = await paths.open(alice, path, { read: true });
      await rejectsErrno(vfs.punchHole(alice, ro.fh, 0, 10), Errno.EBADF);
      await vfs.release(alice, ro.fh);
      // The snapshot held the punched records' blocks (and the edges' old ones): its deletion frees them.
      const b0 = await liveBlocks();
      await snapshots.delete(snap);
      assert.equal(b0 - (await liveBlocks()), MiB / rs + 2, 'blocks freed with the snapshot');
      // Without a snapshot, the blocks go at once.
      const b1 = await liveBlocks();
      const { fh: f2 } = await paths.open(alice, path, { write: true });
      await vfs.punchHole(alice, f2, 0, 4 * MiB);
      await vfs.release(alice, f2);
      assert.equal(await liveBlocks(), b1 - (MiB / rs) * 2 - 1, 'every record of the file is freed');
      assert.equal((await paths.stat(alice, path)).blocks, 0);
      assert.ok((await readFile(alice, path)).equals(Buffer.alloc(data.length)));
    });

    test('copyFileRange: exact bytes, clamped at the source end, aligned records shared by reference (holes stay holes), unaligned ranges copied, from a snapshot too', async () => {
      const { dir } = await home();
      const { vfs, paths, snapshots } = fx.inst;
      const src = Buffer.concat([randomBytes(MiB), Buffer.alloc(MiB), randomBytes(MiB + 1000)]);
      const sw = await paths.open(alice, `${dir}/src`, { write: true, create: true });
      await vfs.write(alice, sw.fh, 0, src.subarray(0, MiB));
      await vfs.write(alice, sw.fh, 2 * MiB, src.subarray(2 * MiB));
      await vfs.release(alice, sw.fh);
      const s = await paths.open(alice, `${dir}/src`, { read: true });
      const d = await paths.open(alice, `${dir}/dst`, { read: true, write: true, create: true });
      const b0 = await liveBlocks();
      const q0 = await userBytes(alice);
      assert.equal(await vfs.copyFileRange(alice, s.fh, 0, d.fh, 0, 10 * MiB), src.length, 'clamped at the end of the source');
      assert.equal(await liveBlocks(), b0, 'aligned records are shared, not copied');
      assert.equal((await userBytes(alice)) - q0, 2 * MiB + 1000, 'the copy counts in the owner\'s quota as written bytes');
      const model = Buffer.from(src);
      assert.ok((await vfs.read(alice, d.fh, 0, 4 * MiB)).equals(model));
      assert.equal(await vfs.seekData(alice, d.fh, 0, 'hole'), MiB, 'the source\'s hole came along');
      assert.equal(await vfs.seekData(alice, d.fh, MiB, 'data'), 2 * MiB);
      assert.equal(await vfs.copyFileRange(alice, s.fh, src.length, d.fh, 0, 100), 0, 'nothing at the source end');
      assert.equal(await vfs.copyFileRange(alice, s.fh, src.length + 5, d.fh, 0, 100), 0, 'nothing past it');
      assert.equal(await vfs.copyFileRange(alice, s.fh, src.length - 10, d.fh, 5, 100), 10, 'partial at the source end');
      src.copy(model, 5, src.length - 10);
      assert.equal(await vfs.copyFileRange(alice, s.fh, 12345, d.fh, MiB + 7, 2 * MiB), 2 * MiB, 'unaligned');
      src.copy(model, MiB + 7, 12345, 12345 + 2 * MiB);
      assert.equal(await vfs.copyFileRange(alice, s.fh, 0, d.fh, MiB, MiB + 500), MiB + 500, 'aligned, ending inside a record of the destination');
      src.copy(model, MiB, 0, MiB + 500);
      assert.ok((await vfs.read(alice, d.fh, 0, 4 * MiB)).equals(model), 'every copy landed, nothing else changed');
      assert.equal((await paths.stat(alice, `${dir}/dst`)).size, src.length, 'the size only grows by copying past the end');
      await rejectsErrno(vfs.copyFileRange(alice, d.fh, 0, d.fh, 100, 1000), Errno.EINVAL);
      assert.equal(await vfs.copyFileRange(alice, d.fh, 0, d.fh, model.length, MiB), MiB, 'within one file, ranges apart');
      const grown = Buffer.concat([model, model.subarray(0, MiB)]);
      assert.ok((await vfs.read(alice, d.fh, 0, 5 * MiB)).equals(grown));
      await rejectsErrno(vfs.copyFileRange(alice, s.fh, -1, d.fh, 0, 10), Errno.EINVAL);
      await rejectsErrno(vfs.copyFileRange(alice, s.fh, 0, s.fh, 0, 10), Errno.EBADF); // not open for writing
      const ap = await paths.open(alice, `${dir}/dst`, { append: true });
      await rejectsErrno(vfs.copyFileRange(alice, s.fh, 0, ap.fh, 0, 10), Errno.EBADF);
      await vfs.release(alice, ap.fh);
      await vfs.release(alice, d.fh);
      await vfs.release(alice, s.fh);
      // From a snapshot: the old bytes, by reference.
      const snap = `copy${dir.slice(2)}`;
      await snapshots.create(snap);
      await writeFile(alice, `${dir}/src`, Buffer.from('changed'));
      const old = await paths.open(alice, `/.snapshots/${snap}${dir}/src`, { read: true });
      const r = await paths.open(alice, `${dir}/restored`, { read: true, write: true, create: true });
      const b1 = await liveBlocks();
      assert.equal(await vfs.copyFileRange(alice, old.fh, 0, r.fh, 0, 1 << 30), src.length);
      assert.equal(await liveBlocks(), b1, 'shared with the snapshot');
      await rejectsErrno(vfs.copyFileRange(alice, r.fh, 0, old.fh, 0, 10), Errno.EROFS);
      await vfs.release(alice, old.fh);
      await vfs.release(alice, r.fh);
      await snapshots.delete(snap);
      assert.ok((await readFile(alice, `${dir}/restored`)).equals(src), 'still there after the snapshot went');
    });

    /** The real name lookupCaseless answers for `name` in directory `parent`. */
    const caseless = async (ctx: Ctx, parent: number, name: string) => (await fx.inst.vfs.lookupCaseless(ctx, parent, name)).name;

    test('lookupCaseless: the exact name, else the one that folds alike, with its real name; after create, link, rename, unlink, rmdir; errors as lookup', async () => {
      const { dir, ino } = await home();
      const { vfs, paths } = fx.inst;
      await writeFile(alice, `${dir}/Report.TXT`, Buffer.from('r'));
      const file = await paths.stat(alice, `${dir}/Report.TXT`);
      for (const n of ['Report.TXT', 'report.txt', 'REPORT.TXT', 'rEPORT.tXt']) {
        const r = await vfs.lookupCaseless(alice, ino, n);
        assert.deepEqual([r.name, r.attr.ino, r.ambiguous], ['Report.TXT', file.ino, false], n);
      }
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'Report.TX'), Errno.ENOENT);
      await paths.link(alice, `${dir}/Report.TXT`, `${dir}/Hard.Link`);
      assert.equal(await caseless(alice, ino, 'HARD.LINK'), 'Hard.Link');
      assert.equal((await vfs.lookupCaseless(alice, ino, 'hard.link')).attr.ino, file.ino);
      await paths.rename(alice, `${dir}/Report.TXT`, `${dir}/Final.txt`);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'report.txt'), Errno.ENOENT);
      assert.equal(await caseless(alice, ino, 'FINAL.TXT'), 'Final.txt');
      // Across directories, and over an existing target (which leaves both indexes).
      const sub = await paths.mkdir(alice, `${dir}/Sub`, 0o755);
      await writeFile(alice, `${dir}/Sub/Victim`, Buffer.from('v'));
      await paths.rename(alice, `${dir}/Final.txt`, `${dir}/Sub/Moved.Txt`);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'final.txt'), Errno.ENOENT);
      assert.equal(await caseless(alice, sub.ino, 'moved.txt'), 'Moved.Txt');
      await paths.rename(alice, `${dir}/Sub/Moved.Txt`, `${dir}/Sub/Victim`);
      await rejectsErrno(vfs.lookupCaseless(alice, sub.ino, 'MOVED.TXT'), Errno.ENOENT);
      const v = await vfs.lookupCaseless(alice, sub.ino, 'VICTIM');
      assert.deepEqual([v.name, v.attr.ino], ['Victim', file.ino]);
      assert.equal(await caseless(alice, ino, 'sub'), 'Sub');
      await paths.unlink(alice, `${dir}/Hard.Link`);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'hard.link'), Errno.ENOENT);
      await paths.mkdir(alice, `${dir}/Empty`, 0o755);
      assert.equal(await caseless(alice, ino, 'EMPTY'), 'Empty');
      await paths.rmdir(alice, `${dir}/Empty`);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'empty'), Errno.ENOENT);
      // The same checks and errors as lookup.
      assert.equal((await vfs.lookupCaseless(alice, sub.ino, '..')).attr.ino, ino);
      assert.equal((await vfs.lookupCaseless(alice, sub.ino, '.')).attr.ino, sub.ino);
      await rejectsErrno(vfs.lookupCaseless(alice, file.ino, 'x'), Errno.ENOTDIR);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'x'.repeat(256)), Errno.ENAMETOOLONG);
      await vfs.setattr(alice, sub.ino, { mode: 0o700 });
      await rejectsErrno(vfs.lookupCaseless(bob, sub.ino, 'victim'), Errno.EACCES);
      await rejectsErrno(vfs.lookupCaseless(bob, sub.ino, 'Victim'), Errno.EACCES);
    });

    test('lookupCaseless: names that fold alike (the exact one wins, else the first), non-ASCII letters fold per code unit (Ä/ä; ß only itself)', async () => {
      const { dir, ino } = await home();
      const { vfs, paths } = fx.inst;
      const plain = !fx.inst.impl.meta.names.encrypted;
      await writeFile(alice, `${dir}/a`, Buffer.from('lower'));
      await writeFile(alice, `${dir}/A`, Buffer.from('upper'));
      assert.deepEqual((await paths.readdir(alice, dir)).map((e) => e.name).sort(), ['A', 'a'], 'both are listed');
      for (const n of ['a', 'A']) {
        const r = await vfs.lookupCaseless(alice, ino, n);
        assert.deepEqual([r.name, r.ambiguous], [n, false], `exact ${n}`);
        assert.equal(r.attr.ino, (await paths.stat(alice, `${dir}/${n}`)).ino);
      }
      await writeFile(alice, `${dir}/Readme`, Buffer.from('1'));
      await writeFile(alice, `${dir}/README`, Buffer.from('2'));
      const amb = await vfs.lookupCaseless(alice, ino, 'readme');
      assert.equal(amb.ambiguous, true);
      assert.ok(['Readme', 'README'].includes(amb.name));
      if (plain) assert.equal(amb.name, 'README', 'the first in UTF-8 byte order');
      assert.equal(amb.attr.ino, (await paths.stat(alice, `${dir}/${amb.name}`)).ino);
      const other = amb.name === 'README' ? 'Readme' : 'README';
      await paths.unlink(alice, `${dir}/${amb.name}`);
      const one = await vfs.lookupCaseless(alice, ino, 'readme');
      assert.deepEqual([one.name, one.ambiguous], [other, false], 'the other one, once alone');
      await paths.mkdir(alice, `${dir}/Äpfel`, 0o755);
      assert.equal(await caseless(alice, ino, 'äPFEL'), 'Äpfel');
      assert.equal(await caseless(alice, ino, 'ÄPFEL'), 'Äpfel');
      await writeFile(alice, `${dir}/straße`, Buffer.from('s'));
      assert.equal(await caseless(alice, ino, 'STRAßE'), 'straße');
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'STRASSE'), Errno.ENOENT);
      await rejectsErrno(vfs.lookupCaseless(alice, ino, 'strasse'), Errno.ENOENT);
      await writeFile(alice, `${dir}/ΣΟΦΙΑ`, Buffer.from('g'));
      assert.equal(await caseless(alice, ino, 'σοφια'), 'ΣΟΦΙΑ');
    });

    test('lookupCaseless in a snapshot answers as the tree was, after the live tree changed', async () => {
      const { dir, ino } = await home();
      const { vfs, paths, snapshots } = fx.inst;
      await writeFile(alice, `${dir}/Old.txt`, Buffer.from('old'));
      await paths.mkdir(alice, `${dir}/Docs`, 0o755);
      const snap = `caseless${dir.slice(2)}`;
      await snapshots.create(snap);
      await paths.rename(alice, `${dir}/Old.txt`, `${dir}/New.txt`);
      await paths.rmdir(alice, `${dir}/Docs`);
      await writeFile(alice, `${dir}/Added`, Buffer.from('new'));
      assert.equal(await caseless(alice, ino, 'NEW.TXT'), 'New.txt');
      assert.equal(await caseless(alice, ino, 'added'), 'Added');
      for (const n of ['old.txt', 'docs']) await rejectsErrno(vfs.lookupCaseless(alice, ino, n), Errno.ENOENT);
      const snapdir = await vfs.lookupCaseless(alice, 1, '.SNAPSHOTS');
      assert.equal(snapdir.name, '.snapshots');
      const root = await vfs.lookupCaseless(alice, snapdir.attr.ino, snap.toUpperCase());
      assert.equal(root.name, snap);
      const old = await vfs.lookupCaseless(alice, root.attr.ino, dir.slice(1).toUpperCase());
      assert.equal(old.name, dir.slice(1));
      assert.equal(await caseless(alice, old.attr.ino, 'OLD.TXT'), 'Old.txt');
      assert.equal(await caseless(alice, old.attr.ino, 'docs'), 'Docs');
      for (const n of ['new.txt', 'ADDED']) await rejectsErrno(vfs.lookupCaseless(alice, old.attr.ino, n), Errno.ENOENT);
      await snapshots.delete(snap);
      await rejectsErrno(vfs.lookupCaseless(alice, old.attr.ino, 'old.txt'), Errno.ESTALE);
      assert.equal(await caseless(alice, ino, 'new.TXT'), 'New.txt', 'the live tree is unchanged by the deletion');
    });

    test('lookupCaseless index at rest: on an encrypted pool neither the folded nor the real name is in the metadata (plain: the folded name is an index key)', async () => {
      const { dir, ino } = await home();
      const real = `Quarterly-Forecast-${dir.slice(2)}-Zq81`;
      await writeFile(alice, `${dir}/${real}`, Buffer.from('q'));
      assert.equal(await caseless(alice, ino, real.toLowerCase()), real);
      const folded = Buffer.from(real.toUpperCase()), plain = Buffer.from(real);
      let foldedKey = false, inClear = false;
      for await (const [k, v] of fx.inst.snapshots.scan(Buffer.alloc(0), Buffer.alloc(16, 0xff))) {
        if (k.includes(folded)) foldedKey = true;
        if (k.includes(folded) || v.includes(folded) || k.includes(plain) || v.includes(plain)) inClear = true;
      }
      if (fx.inst.impl.meta.names.encrypted) assert.ok(!inClear, 'no folded or real name in clear');
      else assert.ok(foldedKey, 'control: the folded name is a key on a plain pool');
    });

    test('data and tree survive a reopen', async (t) => {
      if (!fx.reopen) { t.skip('engine is not durable'); return; }
      const { dir } = await home();
      const data = randomBytes(1_234_567);
      await writeFile(alice, `${dir}/keep`, data);
      await fx.inst.paths.symlink(alice, 'keep', `${dir}/keep.ln`);
      fx.inst = await fx.reopen();
      assert.ok((await readFile(alice, `${dir}/keep.ln`)).equals(data));
    });
  });
}
