/**
 * Vfs.watch (issue 4: the kernel's caches are told when another protocol changes a file): each
 * change in the live tree reaches the listeners with the clientId that made it; failed changes,
 * reads and changes after unsubscribing do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs, ROOT_CTX } from './index.js';
import type { Ctx, VfsChange } from './types.js';

test('watch: every kind of change, with the entry and the inode it touches, and who made it', async () => {
  const v = await createMemoryVfs({ recordSize: 4096 });
  try {
    const dav: Ctx = { ...ROOT_CTX, clientId: 'webdav' };
    const seen: [string, VfsChange][] = [];
    const stop = v.vfs.watch((ch, clientId) => seen.push([clientId, ch]));
    const take = () => seen.splice(0).map(([who, ch]) => `${who} ${ch.ino}${ch.name === undefined ? '' : `/${ch.name}`}`);
    const what = () => seen.map(([, ch]) => `${ch.action}${ch.dir === undefined ? '' : ch.dir ? ' dir' : ' file'}`);

    const dir = await v.vfs.mkdir(dav, 1, 'd', 0o755);
    assert.deepEqual(what(), ['add dir', 'attr'], 'what happened, for SMB CHANGE_NOTIFY');
    assert.deepEqual(take(), ['webdav 1/d', 'webdav 1']);
    const { attr: f, fh } = await v.vfs.create(dav, dir.ino, 'f', 0o644, { read: true, write: true });
    assert.deepEqual(take(), [`webdav ${dir.ino}/f`, `webdav ${dir.ino}`]);
    await v.vfs.write(dav, fh, 0, Buffer.from('hello'));
    assert.deepEqual(what(), ['data']);
    assert.deepEqual(take(), [`webdav ${f.ino}`]);
    await v.vfs.read(dav, fh, 0, 5);
    await v.vfs.getattr(dav, f.ino);
    assert.deepEqual(take(), [], 'reads change nothing');
    await v.vfs.punchHole(dav, fh, 0, 2);
    assert.deepEqual(take(), [`webdav ${f.ino}`], 'a punched hole');
    const { attr: c, fh: cfh } = await v.vfs.create(dav, dir.ino, 'c', 0o644, { read: true, write: true });
    take();
    assert.equal(await v.vfs.copyFileRange(dav, fh, 0, cfh, 0, 5), 5);
    assert.deepEqual(take(), [`webdav ${c.ino}`], 'the destination of a copy');
    await v.vfs.release(dav, cfh);
    await v.vfs.release(dav, fh);
    await v.vfs.setattr(ROOT_CTX, f.ino, { mode: 0o600 });
    assert.deepEqual(take(), [`${ROOT_CTX.clientId} ${f.ino}`]);
    await v.vfs.link(dav, f.ino, 1, 'hard');
    assert.deepEqual(take(), ['webdav 1/hard', 'webdav 1', `webdav ${f.ino}`], 'the new name and the link count');
    await v.vfs.rename(dav, dir.ino, 'f', 1, 'g');
    assert.deepEqual(what(), ['rename-from file', 'attr', 'rename-to file', 'attr']);
    assert.deepEqual(take(), [`webdav ${dir.ino}/f`, `webdav ${dir.ino}`, 'webdav 1/g', 'webdav 1']);
    await v.vfs.setxattr(dav, f.ino, 'user.k', Buffer.from('v'));
    await v.vfs.removexattr(dav, f.ino, 'user.k');
    assert.deepEqual(what(), ['xattr', 'xattr']);
    assert.deepEqual(take(), [`webdav ${f.ino}`, `webdav ${f.ino}`]);
    await v.vfs.symlink(dav, 1, 'ln', 'g');
    await v.vfs.unlink(dav, 1, 'ln');
    await v.vfs.unlink(dav, dir.ino, 'c');
    await v.vfs.rmdir(dav, 1, 'd');
    assert.deepEqual(what(), ['add file', 'attr', 'remove file', 'attr', 'remove file', 'attr', 'remove dir', 'attr']);
    assert.deepEqual(take(), ['webdav 1/ln', 'webdav 1', 'webdav 1/ln', 'webdav 1', `webdav ${dir.ino}/c`, `webdav ${dir.ino}`, 'webdav 1/d', 'webdav 1']);

    await assert.rejects(v.vfs.unlink(dav, 1, 'absent'));
    await assert.rejects(v.vfs.mkdir(dav, 1, 'g', 0o755));
    assert.deepEqual(take(), [], 'a refused change tells nobody');
    stop();
    await v.vfs.mkdir(dav, 1, 'e', 0o755);
    assert.deepEqual(take(), [], 'unsubscribed');
  } finally {
    await v.close();
  }
});
