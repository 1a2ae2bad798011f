/**
 * vfsSuite: the behaviour every VFS instance must show, whatever its engines. Call it with a
 * factory; it is run against the memory engines and against RocksDB + the erasure-coded pool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Ctx, VfsInstance } from '../../vfs/index.js';
import { Errno, ROOT_CTX, VfsError } from '../../vfs/index.js';

export interface VfsFixture {
  inst: VfsInstance;
  /** Closes and reopens on the same storage (for durable engines); absent for memory. */
  reopen?: () => Promise<VfsInstance>;
  cleanup(): Promise<void>;
}

const alice: Ctx = { uid: 1001, gid: 1001, groups: [], clientId: 'test:alice' };
const bob: Ctx = { uid: 1002, gid: 1002, groups: [], clientId: 'test:bob' };
const carol: Ctx = { uid: 1003, gid: 1003, groups: [1001], clientId: 'test:carol' };

async function rejects(p: Promise<unknown>, errno: Errno): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VfsError, `expected VfsError, got ${String(e)}`);
    assert.equal(Errno[e.errno], Errno[errno]);
    return true;
  });
}

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
      await rejects(paths.open(bob, `${dir}/mine`, { write: true }), Errno.EACCES);
      assert.equal((await readFile(bob, `${dir}/mine`)).toString(), 'x');
      await rejects(paths.open(bob, `${dir}/new`, { write: true, create: true }), Errno.EACCES);
      await paths.setattr(alice, `${dir}/mine`, { mode: 0o600 });
      await rejects(paths.open(bob, `${dir}/mine`, { read: true }), Errno.EACCES);
      await rejects(paths.setattr(bob, `${dir}/mine`, { mode: 0o777 }), Errno.EPERM);
    });

    test('group permissions through supplementary groups', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/g`, Buffer.from('g'));
      await paths.setattr(alice, `${dir}/g`, { mode: 0o660 });
      await writeFile(carol, `${dir}/g`, Buffer.from('carol'));
      await rejects(paths.open(bob, `${dir}/g`, { read: true }), Errno.EACCES);
    });

    test('chown rules: only root gives files away; owner may change group to one of theirs', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/c`, Buffer.from('c'));
      await rejects(paths.setattr(alice, `${dir}/c`, { uid: bob.uid }), Errno.EPERM);
      await rejects(paths.setattr(alice, `${dir}/c`, { gid: bob.gid }), Errno.EPERM);
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
      await rejects(paths.unlink(carol, `${dir}/bobs`), Errno.EPERM);
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
      await rejects(paths.stat(alice, `${dir}/a`), Errno.ENOENT);
      await paths.mkdir(alice, `${dir}/d1`);
      await paths.mkdir(alice, `${dir}/d2`);
      await writeFile(alice, `${dir}/d2/x`, Buffer.from('x'));
      await rejects(paths.rename(alice, `${dir}/d1`, `${dir}/d2`), Errno.ENOTEMPTY);
      await rejects(paths.rename(alice, `${dir}/b`, `${dir}/d1`), Errno.EISDIR);
      await rejects(paths.rename(alice, `${dir}/d1`, `${dir}/b`), Errno.ENOTDIR);
      await rejects(paths.rename(alice, `${dir}/d2`, `${dir}/d2/inside`), Errno.EINVAL);
      await rejects(paths.rename(alice, `${dir}/b`, `${dir}/d2/x`, { noreplace: true }), Errno.EEXIST);
      const before = (await paths.stat(alice, dir)).nlink;
      await paths.rename(alice, `${dir}/d1`, `${dir}/d2/d1`);
      assert.equal((await paths.stat(alice, dir)).nlink, before - 1);
      assert.equal((await paths.stat(alice, `${dir}/d2`)).nlink, 3);
      await paths.rmdir(alice, `${dir}/d2/d1`);
      await rejects(paths.rmdir(alice, `${dir}/d2`), Errno.ENOTEMPTY);
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
      await rejects(paths.link(alice, dir, `${dir}/dirlink`), Errno.EPERM);
    });

    test('unlink of an open file: reads go on until release, then the inode is gone', async () => {
      const { dir } = await home();
      const { vfs, paths } = fx.inst;
      await writeFile(alice, `${dir}/open`, Buffer.from('still here'));
      const { fh, attr } = await paths.open(alice, `${dir}/open`, { read: true });
      await paths.unlink(alice, `${dir}/open`);
      assert.equal((await vfs.read(alice, fh, 0, 100)).toString(), 'still here');
      await vfs.release(alice, fh);
      await rejects(vfs.getattr(alice, attr.ino), Errno.ESTALE);
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
      await rejects(paths.stat(alice, `${dir}/loop1`), Errno.ELOOP);
    });

    test('names: too long, NUL, dot entries; paths never leave the export', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await rejects(paths.mkdir(alice, `${dir}/${'x'.repeat(256)}`), Errno.ENAMETOOLONG);
      await rejects(paths.mkdir(alice, `${dir}/a\0b`), Errno.EINVAL);
      await paths.mkdir(alice, `${dir}/${'y'.repeat(255)}`);
      assert.equal(paths.normalize('/../../etc/./passwd'), '/etc/passwd');
      assert.equal(paths.normalize('a/b/../../..'), '/');
      await rejects(paths.stat(alice, '/../../etc/passwd'), Errno.ENOENT);
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
      await rejects(vfs.readdir(bob, (await paths.mkdir(alice, `${dir}/priv`, 0o700)).ino, 0, 10), Errno.EACCES);
    });

    test('xattrs: user namespace with flags and permissions', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/x`, Buffer.from('x'));
      const ino = (await paths.stat(alice, `${dir}/x`)).ino;
      await vfs.setxattr(alice, ino, 'user.color', Buffer.from('blue'));
      await rejects(vfs.setxattr(alice, ino, 'user.color', Buffer.from('red'), { create: true }), Errno.EEXIST);
      await rejects(vfs.setxattr(alice, ino, 'user.none', Buffer.from('red'), { replace: true }), Errno.ENODATA);
      assert.equal((await vfs.getxattr(bob, ino, 'user.color')).toString(), 'blue');
      await rejects(vfs.setxattr(bob, ino, 'user.color', Buffer.from('x')), Errno.EACCES);
      await rejects(vfs.setxattr(alice, ino, 'trusted.x', Buffer.from('x')), Errno.EPERM);
      await rejects(vfs.setxattr(alice, ino, 'bogus', Buffer.from('x')), Errno.EOPNOTSUPP);
      assert.deepEqual(await vfs.listxattr(alice, ino), ['user.color']);
      await vfs.removexattr(alice, ino, 'user.color');
      await rejects(vfs.getxattr(alice, ino, 'user.color'), Errno.ENODATA);
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
      await rejects(paths.copy(alice, `${dir}/src`, `${dir}/dst`, { overwrite: false, depth: 'infinity' }), Errno.EEXIST);
      await rejects(paths.copy(alice, `${dir}/src`, `${dir}/src/sub/in`, { overwrite: true, depth: 'infinity' }), Errno.EINVAL);
      await paths.removeTree(alice, `${dir}/src`);
      assert.ok((await readFile(alice, `${dir}/dst/sub/big`)).equals(big), 'copy survives removal of the source');
      await rejects(paths.stat(alice, `${dir}/src`), Errno.ENOENT);
    });

    test('utimens: explicit times by the owner only, now by writers', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      await writeFile(alice, `${dir}/u`, Buffer.from('u'));
      const a = await paths.setattr(alice, `${dir}/u`, { mtimeNs: 1_000_000_000n, atimeNs: 2_000_000_000n });
      assert.equal(a.mtimeNs, 1_000_000_000n);
      assert.equal(a.atimeNs, 2_000_000_000n);
      await rejects(paths.setattr(bob, `${dir}/u`, { mtimeNs: 5n }), Errno.EPERM);
      await rejects(paths.setattr(bob, `${dir}/u`, { mtimeNs: 'now' }), Errno.EACCES);
      await paths.setattr(alice, `${dir}/u`, { mode: 0o666 });
      assert.ok((await paths.setattr(bob, `${dir}/u`, { mtimeNs: 'now' })).mtimeNs > 1_000_000_000n);
    });

    test('byte-range locks conflict across clients, share for readers, and split on unlock', async () => {
      const { dir } = await home();
      const { paths, vfs } = fx.inst;
      await writeFile(alice, `${dir}/l`, Buffer.alloc(100));
      const ino = (await paths.stat(alice, `${dir}/l`)).ino;
      await vfs.lock(alice, ino, { type: 'write', start: 0, end: 50, owner: 'p1' });
      await rejects(vfs.lock(bob, ino, { type: 'read', start: 40, end: 60, owner: 'p2' }), Errno.EAGAIN);
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

    test('statfs reports capacity and usage that moves with data', async () => {
      const { dir } = await home();
      const { paths } = fx.inst;
      const s0 = await paths.statfs(alice, '/');
      assert.ok(s0.blocks > 0 && s0.bfree <= s0.blocks && s0.namemax === 255);
      await writeFile(alice, `${dir}/big`, randomBytes(2 << 20));
      const s1 = await paths.statfs(alice, '/');
      assert.ok(s1.bfree < s0.bfree, `free space went down (${s0.bfree} -> ${s1.bfree})`);
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
