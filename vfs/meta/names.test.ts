// Names at rest (vfs/meta/names.ts): on an encrypted pool no file name, xattr name or value, or
// symlink target appears in the metadata files, and everything still works through the VFS.
// The same run with plain names is the control: there the strings are found.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryBlockStore } from '../../raid/memory.js';
import { Errno, VfsError } from '../errno.js';
import { openVfs, ROOT_CTX } from '../index.js';
import { nameCipher, PLAIN_NAMES, type NameCipher } from './names.js';
import { openRocksKv } from './rocksdb.js';

const SECRETS = ['quarterly-forecast-Zq81', 'user.secret-attr-Kx5', 'attr value Wy77 payload', '/home/target-Jm42/here'];

/** Writes a small tree with the known strings; returns the bytes of every metadata file. */
async function writeTree(names: NameCipher): Promise<{ files: Buffer[]; listing: string[]; xattr: Buffer; link: string; xnames: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-names-'));
  try {
    const kv = await openRocksKv(join(dir, 'meta'));
    const v = await openVfs({ kv, blocks: new MemoryBlockStore(), names });
    await v.paths.mkdir(ROOT_CTX, '/docs', 0o755);
    const { fh } = await v.paths.open(ROOT_CTX, `/docs/${SECRETS[0]}.txt`, { write: true, create: true });
    await v.vfs.release(ROOT_CTX, fh);
    await v.paths.setxattr(ROOT_CTX, `/docs/${SECRETS[0]}.txt`, SECRETS[1]!, Buffer.from(SECRETS[2]!));
    await v.paths.symlink(ROOT_CTX, SECRETS[3]!, '/docs/link');
    await v.paths.rename(ROOT_CTX, `/docs/${SECRETS[0]}.txt`, `/docs/${SECRETS[0]}-v2.txt`);
    const listing = (await v.paths.readdir(ROOT_CTX, '/docs')).map((e) => e.name).sort();
    const xattr = await v.paths.getxattr(ROOT_CTX, `/docs/${SECRETS[0]}-v2.txt`, SECRETS[1]!);
    const xnames = await v.paths.listxattr(ROOT_CTX, `/docs/${SECRETS[0]}-v2.txt`);
    const link = await v.paths.readlink(ROOT_CTX, '/docs/link');
    await v.close(); // flushes the memtable: the rows are in SST files and the WAL
    const files: Buffer[] = [];
    for (const f of await readdir(join(dir, 'meta'))) files.push(await readFile(join(dir, 'meta', f)));
    return { files, listing, xattr, link, xnames };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('encrypted names: no name, xattr or symlink target in the RocksDB files; all read back (plain names: all found)', async () => {
  const plain = await writeTree(PLAIN_NAMES);
  const sealed = await writeTree(nameCipher(randomBytes(32)));
  for (const r of [plain, sealed]) {
    assert.deepEqual(r.listing, ['link', `${SECRETS[0]}-v2.txt`]);
    assert.equal(r.xattr.toString(), SECRETS[2]);
    assert.deepEqual(r.xnames, [SECRETS[1]]);
    assert.equal(r.link, SECRETS[3]);
  }
  // The caseless index ('F' rows, vfs/meta/fold.ts) holds the file's name folded to upper case.
  for (const s of [...SECRETS, `${SECRETS[0]}-v2.txt`.toUpperCase()]) {
    assert.ok(plain.files.some((f) => f.includes(s)), `control: "${s}" is in the plain metadata`);
    assert.ok(!sealed.files.some((f) => f.includes(s)), `"${s}" is not in the encrypted metadata`);
  }
});

test('names cipher: lookups by keyed hash, another key cannot open, garbage is EIO never a crash', () => {
  const a = nameCipher(randomBytes(32)), b = nameCipher(randomBytes(32));
  assert.equal(a.key('x'), a.key('x'));
  assert.notEqual(a.key('x'), b.key('x'));
  assert.match(a.key('some name'), /^[0-9a-f]{32}$/);
  const s = a.seal(Buffer.from('name'));
  assert.equal(a.open(s).toString(), 'name');
  assert.throws(() => b.open(s), (e: unknown) => e instanceof VfsError && e.errno === Errno.EIO);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (g) => {
    assert.throws(() => a.open(Buffer.from(g)), (e: unknown) => e instanceof VfsError && e.errno === Errno.EIO);
  }));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (p) => {
    assert.ok(a.open(a.seal(Buffer.from(p))).equals(Buffer.from(p)));
  }));
});
