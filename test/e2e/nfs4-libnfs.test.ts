/**
 * End-to-end test of the NFSv4 server with the real libnfs client tools (Debian libnfs-utils
 * 4.0: nfs-ls, nfs-cat, nfs-cp) speaking NFSv4.0 (`version=4`) over a RocksDB + rs:4+2 pool:
 * a tree of a few hundred files written through the VFS is listed with nfs-ls -R and read back
 * with nfs-cp and nfs-cat byte-identically; small files go in with nfs-cp (libnfs 4.0 itself
 * fails v4 writes of 3,945 bytes or more, a client quirk); errors reach the client; a file
 * handle from before a restart of server and pool still works, and the restart's grace period
 * refuses new opens until it ends; with an export below the root, libnfs walks the pseudo-fs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { startNfsServer, type NfsServer } from '../../protocols/nfs/index.js';
import { makeExport } from '../../protocols/nfs/exports.js';
import { bitmapOf, decodeFattr, FATTR4 } from '../../protocols/nfs/wire/nfs4-attr.js';
import { decodeCompoundRes, type CompoundRes } from '../../protocols/nfs/wire/nfs4-res.js';
import { encodeCompound, NFS4, NFS4_VERSION, NFSPROC4_COMPOUND, OP, op, type Op4 } from '../../protocols/nfs/wire/nfs4.js';
import { NFS_PROG } from '../../protocols/nfs/wire/nfs3.js';
import { diff, manifest } from './tree.js';
import { createTestPool, openTestVfs, pool, rpcOnce, runBin, sha, writeLocalTree } from './nfs-harness.js';

const run = runBin;

/** One NFSv4.0 COMPOUND over a fresh TCP connection as root. */
async function compound(port: number, ops: Op4[]): Promise<CompoundRes> {
  return decodeCompoundRes(await rpcOnce(port, { prog: NFS_PROG, vers: NFS4_VERSION, proc: NFSPROC4_COMPOUND }, encodeCompound('e2e', 0, ops)));
}

describe('NFSv4.0 with libnfs (version=4: nfs-ls, nfs-cat, nfs-cp)', () => {
  let dir: string;
  let inst: VfsInstance;
  let server: NfsServer;
  let url: (path: string) => string;
  const files: string[] = [];
  const dirs = new Set<string>();

  async function start(): Promise<void> {
    inst = await openTestVfs(dir);
    server = await startNfsServer({ vfs: inst.vfs, host: '127.0.0.1', port: 0, stateDir: join(dir, 'nfs-state'), leaseSeconds: 10, graceSeconds: 2 });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-nfs4-e2e-'));
    await createTestPool(dir);
    await start();
    url = (path) => `nfs://127.0.0.1${path}?version=4&nfsport=${server.port}`;
    // 300 files in 3 levels of folders, empty to 3 MiB, written through the VFS (and kept locally to compare).
    const src = join(dir, 'src');
    writeLocalTree(src, files, dirs);
    for (const d of [...dirs].sort()) await inst.paths.mkdir(ROOT_CTX, `/${d}`, 0o777);
    for (const rel of files) {
      const { fh } = await inst.paths.open(ROOT_CTX, `/${rel}`, { write: true, create: true }, 0o644);
      const data = readFileSync(join(src, rel));
      if (data.length) await inst.vfs.write(ROOT_CTX, fh, 0, data);
      await inst.vfs.release(ROOT_CTX, fh);
    }
  });

  after(async () => {
    await server?.close();
    await inst?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('nfs-ls -R lists the tree over NFSv4', async () => {
    const ls = await run('nfs-ls', ['-R', url('/t')]);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = ls.stdout.toString().split('\n').filter(Boolean);
    assert.equal(listed.filter((l) => l.startsWith('-')).length, files.length, 'every file listed');
    assert.equal(listed.filter((l) => l.startsWith('d')).length, [...dirs].filter((d) => d !== 't').length, 'every folder listed');
    assert.ok(listed.some((l) => l.endsWith('d2/s2/f14 with space.bin')), 'names with spaces');
    const big = listed.find((l) => l.endsWith('/f1.bin'))!;
    assert.match(big, new RegExp(`\\b${3 * 1024 * 1024 + 17}\\b`), 'sizes');
  });

  test('nfs-cp copies the whole tree out byte-identically; nfs-cat prints files', async () => {
    const out = join(dir, 'out');
    for (const d of dirs) mkdirSync(join(out, d), { recursive: true });
    await pool(files, 8, async (rel) => {
      const r = await run('nfs-cp', [url(`/${rel}`), join(out, rel)]);
      assert.equal(r.code, 0, `nfs-cp out ${rel}: ${r.stderr}`);
    });
    assert.deepEqual(diff(await manifest(join(dir, 'src')), await manifest(out)), []);
    for (const rel of [files[1]!, files[7]!, files[0]!]) {
      const cat = await run('nfs-cat', [url(`/${rel}`)]);
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(sha(cat.stdout), sha(readFileSync(join(dir, 'src', rel))), rel);
    }
    // The server holds no state for closed files.
    assert.equal([...server.nfs4!.state.states.values()].filter((s) => s.kind === 'open').length, 0, 'every OPEN was CLOSEd');
  });

  test('small files go in with nfs-cp over NFSv4 (OPEN create, WRITE, CLOSE)', async () => {
    const local = join(dir, 'small');
    mkdirSync(local, { recursive: true });
    const names = Array.from({ length: 20 }, (_, i) => `w${i}.txt`);
    for (const [i, n] of names.entries()) writeFileSync(join(local, n), randomBytes(i * 150));
    for (const n of names) {
      const r = await run('nfs-cp', [join(local, n), url(`/t/${n}`)]);
      assert.equal(r.code, 0, `nfs-cp in ${n}: ${r.stderr}`);
    }
    for (const n of names) {
      const { fh, attr } = await inst.paths.open(ROOT_CTX, `/t/${n}`, { read: true });
      const got = attr.size ? await inst.vfs.read(ROOT_CTX, fh, 0, attr.size) : Buffer.alloc(0);
      await inst.vfs.release(ROOT_CTX, fh);
      assert.equal(sha(got), sha(readFileSync(join(local, n))), n);
    }
  });

  test('errors reach the client: a missing file, a missing directory', async () => {
    const miss = await run('nfs-cat', [url('/t/none.bin')]);
    assert.notEqual(miss.code, 0);
    assert.match(miss.stderr + miss.stdout.toString(), /NFS4ERR_NOENT/);
    const noDir = await run('nfs-ls', [url('/no/such/dir')]);
    assert.notEqual(noDir.code, 0);
  });

  test('with an export below the root, libnfs walks the pseudo-fs to it and reads through it', async () => {
    const sub = await startNfsServer({ vfs: inst.vfs, host: '127.0.0.1', port: 0, exports: [makeExport({ path: '/t/d1', clients: ['127.0.0.1'], squash: 'none' }, 'e2e')], nlm: false, udp: false });
    try {
      const u = (path: string) => `nfs://127.0.0.1${path}?version=4&nfsport=${sub.port}`;
      const ls = await run('nfs-ls', ['-R', u('/')]);
      assert.equal(ls.code, 0, ls.stderr);
      const lines = ls.stdout.toString().split('\n').filter(Boolean);
      assert.ok(lines[0]!.startsWith('dr-xr-xr-x') && lines[0]!.endsWith(' t'), `a read-only pseudo directory first: ${lines[0]}`);
      const inD1 = files.filter((f) => f.startsWith('t/d1/'));
      assert.equal(lines.filter((l) => l.startsWith('-')).length, inD1.length, 'only the exported tree');
      const cat = await run('nfs-cat', [u(`/${inD1[3]}`)]);
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(sha(cat.stdout), sha(readFileSync(join(dir, 'src', inD1[3]!))));
      const outside = await run('nfs-cat', [u(`/${files.find((f) => f.startsWith('t/d2/'))}`)]);
      assert.notEqual(outside.code, 0, 'nothing outside the export');
    } finally {
      await sub.close();
    }
  });

  test('a file handle from before a restart of server and pool still works; grace, then libnfs reads again', async () => {
    const r = await compound(server.port, [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, Buffer.from('t')), op(OP.LOOKUP, Buffer.from('d1')), op(OP.GETFH, undefined)]);
    assert.equal(r.status, NFS4.OK);
    const fh = r.results[3]!.res as Buffer;
    await server.close();
    await inst.close();
    await start();
    url = (path) => `nfs://127.0.0.1${path}?version=4&nfsport=${server.port}`;
    const g = await compound(server.port, [op(OP.PUTFH, fh), op(OP.GETATTR, bitmapOf([FATTR4.TYPE, FATTR4.NUMLINKS]))]);
    assert.equal(g.status, NFS4.OK);
    assert.equal(decodeFattr(g.results[1]!.res).get(FATTR4.TYPE), 2);
    // The earlier libnfs clients are in the state folder, so the restart opens a grace period:
    // a new OPEN is refused with NFS4ERR_GRACE (libnfs does not retry), then works after it.
    const early = await run('nfs-cat', [url(`/${files[7]}`)]);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr + early.stdout.toString(), /NFS4ERR_GRACE/);
    await sleep(2100);
    const cat = await run('nfs-cat', [url(`/${files[7]}`)]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(sha(cat.stdout), sha(readFileSync(join(dir, 'src', files[7]!))));
  });
});
