/**
 * The FUSE session's invalidation notices (session.ts, without the kernel): another protocol's
 * change is told at once, repeats within one turn of the event loop once more at its end, and
 * the mount's own changes are not told.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs, ROOT_CTX } from '../../vfs/index.js';
import { FuseSession, type Replier } from './session.js';

const turn = () => new Promise((r) => setImmediate(r));

test('notices: at once for another protocol, repeats folded into one more per turn, none for the mount itself', async () => {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const sent: string[] = [];
  const session = new FuseSession(v.vfs, {} as Replier, { notifier: { inode: (ino) => sent.push(`inode ${ino}`), entry: (p, name) => sent.push(`entry ${p}/${name}`) } });
  try {
    const dav = { ...ROOT_CTX, clientId: 'webdav' };
    const { attr, fh } = await v.vfs.create(dav, 1, 'f', 0o644, { read: true, write: true });
    assert.deepEqual(sent.splice(0), ['entry 1/f', 'inode 1'], 'told before the creating call returns');
    await turn();
    for (let i = 0; i < 10; i++) await v.vfs.write(dav, fh, i * 100, Buffer.alloc(100, i));
    assert.deepEqual(sent, [`inode ${attr.ino}`], 'the first write of the turn at once');
    await turn();
    assert.deepEqual(sent.splice(0), [`inode ${attr.ino}`, `inode ${attr.ino}`], 'the nine repeats as one more at the end of the turn');
    await v.vfs.release(dav, fh);

    const fuse = { ...ROOT_CTX, clientId: 'fuse' };
    await v.vfs.mkdir(fuse, 1, 'd', 0o755);
    await turn();
    assert.deepEqual(sent, [], "the mount's own change: the kernel knows it");
    session.dispose();
    await v.vfs.mkdir(dav, 1, 'e', 0o755);
    await turn();
    assert.deepEqual(sent, [], 'none after dispose');
  } finally {
    session.dispose();
    await v.close();
  }
});
