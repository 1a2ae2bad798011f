/**
 * End-to-end test of the NFSv3 server with the real libnfs client tools (Debian libnfs-utils:
 * nfs-ls, nfs-cp, nfs-cat) over a RocksDB + rs:4+2 pool: a tree of a few hundred files goes in
 * with nfs-cp and comes back out byte-identically; nfs-ls -R lists it; nfs-cat prints a file;
 * errors reach the client. The server is started in the test on a kernel-picked port given to
 * libnfs as nfsport= and mountport= (no portmapper on 111 needed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { startNfsServer, type NfsServer } from '../../protocols/nfs/index.js';
import { decodeMntResult, encodeDirpath, MOUNT_PROC, MOUNT_PROG } from '../../protocols/nfs/wire/mount.js';
import { encodeArgs, NFS3, NFS_PROG, PROC, readFattr3, readPostOpAttr, STABLE } from '../../protocols/nfs/wire/nfs3.js';
import { diff, manifest } from './tree.js';
import { cleanupAll, curl, DW, dw, serve, tempDir } from './gateway-harness.js';
import { createTestPool, openTestVfs, pool, rpcOnce, runBin, sha, writeLocalTree } from './nfs-harness.js';

const run = runBin;

/** One RPC call over a fresh TCP connection as `uid` (default root): the accepted results. */
const rpc = (port: number, prog: number, proc: number, args: Uint8Array, uid = 0) => rpcOnce(port, { prog, vers: 3, proc }, args, uid);

describe('NFSv3 with libnfs (nfs-ls, nfs-cp, nfs-cat)', () => {
  let dir: string;
  let inst: VfsInstance;
  let server: NfsServer;
  let url: (path: string) => string;
  const files: string[] = [];
  const dirs = new Set<string>();

  async function start(): Promise<void> {
    inst = await openTestVfs(dir);
    server = await startNfsServer({ vfs: inst.vfs, host: '127.0.0.1', port: 0 });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-nfs-e2e-'));
    await createTestPool(dir);
    await start();
    url = (path) => `nfs://127.0.0.1${path}?version=3&nfsport=${server.port}&mountport=${server.port}`;
    // A local tree: 300 files in 3 levels of folders, from empty to 3 MiB (several WRITEs/READs each).
    const src = join(dir, 'src');
    writeLocalTree(src, files, dirs);
  });

  after(async () => {
    await server?.close();
    await inst?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('nfs-cp copies a tree of 300 files in; the export holds them byte-identically', async () => {
    // libnfs-utils has no mkdir: the folders are made through the VFS.
    for (const d of [...dirs].sort()) await inst.paths.mkdir(ROOT_CTX, `/${d}`, 0o777);
    await pool(files, 8, async (rel) => {
      const r = await run('nfs-cp', [join(dir, 'src', rel), url(`/${rel}`)]);
      assert.equal(r.code, 0, `nfs-cp ${rel}: ${r.stderr}`);
    });
    for (const rel of files) {
      const { fh, attr } = await inst.paths.open(ROOT_CTX, `/${rel}`, { read: true });
      const got = attr.size ? await inst.vfs.read(ROOT_CTX, fh, 0, attr.size) : Buffer.alloc(0);
      await inst.vfs.release(ROOT_CTX, fh);
      assert.equal(sha(got), sha(readFileSync(join(dir, 'src', rel))), rel);
    }
  });

  test('nfs-ls -R lists the tree; nfs-cp copies it back out byte-identically; nfs-cat prints a file', async () => {
    const ls = await run('nfs-ls', ['-R', url('/t')]);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = ls.stdout.toString().split('\n').filter(Boolean);
    assert.equal(listed.filter((l) => l.startsWith('-')).length, files.length, 'every file listed');
    assert.ok(listed.some((l) => l.endsWith('d2/s2/f14 with space.bin')));
    const out = join(dir, 'out');
    for (const d of dirs) mkdirSync(join(out, d), { recursive: true });
    await pool(files, 8, async (rel) => {
      const r = await run('nfs-cp', [url(`/${rel}`), join(out, rel)]);
      assert.equal(r.code, 0, `nfs-cp out ${rel}: ${r.stderr}`);
    });
    assert.deepEqual(diff(await manifest(join(dir, 'src')), await manifest(out)), []);
    const cat = await run('nfs-cat', [url(`/${files[1]}`)]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(sha(cat.stdout), sha(readFileSync(join(dir, 'src', files[1]!))));
  });

  test('errors reach the client: a missing file, a missing export path', async () => {
    const miss = await run('nfs-cat', [url('/t/none.bin')]);
    assert.notEqual(miss.code, 0);
    const noExport = await run('nfs-ls', [url('/no/such/dir')]);
    assert.notEqual(noExport.code, 0);
  });

  test('file handles stay valid across a restart of server and pool; a removed file\'s handle is stale', async () => {
    const root = decodeMntResult(await rpc(server.port, MOUNT_PROG, MOUNT_PROC.MNT, encodeDirpath('/t/d1'))).fh!;
    const look = async (name: string) => {
      const r = await rpc(server.port, NFS_PROG, PROC.LOOKUP, encodeArgs(PROC.LOOKUP, { dir: root, name }));
      assert.equal(r.uint(), NFS3.OK);
      return r.opaque(64);
    };
    const s1 = await look('s1');
    await server.close();
    await inst.close();
    await start();
    const a = await rpc(server.port, NFS_PROG, PROC.GETATTR, encodeArgs(PROC.GETATTR, s1));
    assert.equal(a.uint(), NFS3.OK, 'the handle taken before the restart works');
    const ls = await run('nfs-ls', [url('/t/d1/s1')]);
    assert.equal(ls.code, 0, ls.stderr);
    const name = ls.stdout.toString().split('\n')[0]!.split(/\s+/).slice(5).join(' ');
    const dirFh = s1;
    const lr = await rpc(server.port, NFS_PROG, PROC.LOOKUP, encodeArgs(PROC.LOOKUP, { dir: dirFh, name }));
    assert.equal(lr.uint(), NFS3.OK, name);
    const fileFh = lr.opaque(64);
    assert.equal((await rpc(server.port, NFS_PROG, PROC.REMOVE, encodeArgs(PROC.REMOVE, { dir: dirFh, name }))).uint(), NFS3.OK);
    assert.equal((await rpc(server.port, NFS_PROG, PROC.GETATTR, encodeArgs(PROC.GETATTR, fileFh))).uint(), NFS3.ERR_STALE);
  });
});

describe('dw serve --nfs', () => {
  after(cleanupAll);

  test('one namespace: a file PUT over WebDAV reads over NFS, one copied in over NFS reads over WebDAV', async () => {
    const data = await tempDir();
    const srv = await serve(data, ['--nfs', '127.0.0.1:0', '--metrics', '127.0.0.1:0']);
    try {
      const port = Number(/NFS:\s+\S+ port (\d+)/.exec(srv.stderr())?.[1]);
      assert.ok(port > 0, srv.stderr());
      // libnfs sends AUTH_SYS as uid/gid 1000, the first user's (admin), so WebDAV's admin owns what it writes.
      const u = (path: string) => `nfs://127.0.0.1${path}?version=3&nfsport=${port}&mountport=${port}&uid=1000&gid=1000`;
      const local = join(data, 'x.bin');
      writeFileSync(local, randomBytes(300_000));
      const put = curl(['-u', `admin:${srv.password}`, '-T', local, `${srv.url}dav/`.replace('dav/', 'in.bin')]);
      assert.equal(put.status, '201', put.body);
      const cat = await run('nfs-cat', [u('//in.bin')]);
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(sha(cat.stdout), sha(readFileSync(local)), 'nfs-cat of in.bin');
      const cp = await run('nfs-cp', [local, u('//back.bin')]);
      assert.equal(cp.code, 0, cp.stderr);
      const get = spawnSync('curl', ['-sS', '-f', '-u', `admin:${srv.password}`, `${srv.url}back.bin`], { maxBuffer: 1 << 24 });
      assert.equal(get.status, 0, get.stderr.toString());
      assert.equal(sha(get.stdout), sha(readFileSync(local)), 'webdav GET of back.bin');
      // An NFSv4 read, and a lookup of a name that is not there.
      const v4 = (path: string) => `nfs://127.0.0.1${path}?version=4&nfsport=${port}&uid=1000&gid=1000`;
      const cat4 = await run('nfs-cat', [v4('//in.bin')]);
      assert.equal(cat4.code, 0, cat4.stderr);
      assert.equal(sha(cat4.stdout), sha(readFileSync(local)), 'nfs-cat over v4');
      assert.notEqual((await run('nfs-cat', [v4('//missing.bin')])).code, 0);
      // The calls show in the metrics, by program and procedure; NFSv4 also by operation.
      const metricsUrl = /Metrics:\s+(\S+)/.exec(srv.stderr())?.[1];
      assert.ok(metricsUrl, srv.stderr());
      const m = curl([metricsUrl]).body;
      assert.match(m, /^dw_nfs_requests_total\{program="mount",version="3",procedure="MNT",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs_requests_total\{program="nfs",version="3",procedure="READ",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs_requests_total\{program="nfs",version="3",procedure="WRITE",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs_request_duration_seconds_count\{program="nfs",procedure="WRITE"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs_requests_total\{program="nfs",version="4",procedure="COMPOUND",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs4_operations_total\{minor="0",operation="READ",status="NFS4_OK"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs4_operations_total\{minor="0",operation="PUTROOTFH",status="NFS4_OK"\} [1-9]\d*$/m);
      assert.match(m, /^dw_nfs4_operations_total\{minor="0",operation="(LOOKUP|OPEN)",status="NFS4ERR_NOENT"\} [1-9]\d*$/m);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('a file handle taken before kill -9 works after the restart; a FILE_SYNC write answered before the kill is kept', async () => {
    const data = await tempDir();
    let srv = await serve(data, ['--nfs', '127.0.0.1:0']);
    const portOf = () => Number(/NFS:\s+\S+ port (\d+)/.exec(srv.stderr())?.[1]);
    let port = portOf();
    const user = 1000; // the first user's uid (admin); root would be squashed
    const body = randomBytes(700_000);
    const local = join(data, 'k.bin');
    writeFileSync(local, body);
    const u = (p: string) => `nfs://127.0.0.1${p}?version=3&nfsport=${port}&mountport=${port}&uid=${user}&gid=${user}`;
    try {
      const cp = await run('nfs-cp', [local, u('//k.bin')]);
      assert.equal(cp.code, 0, cp.stderr);
      const root = decodeMntResult(await rpc(port, MOUNT_PROG, MOUNT_PROC.MNT, encodeDirpath('/'), user)).fh!;
      const lr = await rpc(port, NFS_PROG, PROC.LOOKUP, encodeArgs(PROC.LOOKUP, { dir: root, name: 'k.bin' }), user);
      assert.equal(lr.uint(), NFS3.OK);
      const fh = lr.opaque(64);
      // Overwrite 64 KiB in the middle with FILE_SYNC: durable once answered (RFC 1813 §3.3.7).
      const patch = randomBytes(65_536);
      const wr = await rpc(port, NFS_PROG, PROC.WRITE, encodeArgs(PROC.WRITE, { fh, offset: 300_000n, count: patch.length, stable: STABLE.FILE_SYNC, data: patch }), user);
      assert.equal(wr.uint(), NFS3.OK);
      patch.copy(body, 300_000);
      await srv.kill();
      srv = await serve(data, ['--nfs', '127.0.0.1:0']);
      port = portOf();
      const ga = await rpc(port, NFS_PROG, PROC.GETATTR, encodeArgs(PROC.GETATTR, fh), user);
      assert.equal(ga.uint(), NFS3.OK, 'the handle taken before kill -9 is still valid');
      assert.equal(readFattr3(ga).size, BigInt(body.length));
      const rd = await rpc(port, NFS_PROG, PROC.READ, encodeArgs(PROC.READ, { fh, offset: 0n, count: body.length }), user);
      assert.equal(rd.uint(), NFS3.OK);
      readPostOpAttr(rd);
      assert.equal(rd.uint(), body.length, 'count');
      assert.equal(rd.bool(), true, 'eof');
      assert.equal(sha(rd.opaque(1 << 20)), sha(body), 'READ through the old handle: the whole file, patch included');
      const rootAgain = await rpc(port, NFS_PROG, PROC.GETATTR, encodeArgs(PROC.GETATTR, root), user);
      assert.equal(rootAgain.uint(), NFS3.OK, 'the export root handle from before the kill');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('the pool\'s rules over NFS: old bytes under /.snapshots (read-only), quota as NFS3ERR_DQUOT, retention as NFS3ERR_PERM', async () => {
    const data = await tempDir();
    const srv = await serve(data, ['--nfs', '127.0.0.1:0']);
    const port = Number(/NFS:\s+\S+ port (\d+)/.exec(srv.stderr())?.[1]);
    const user = 1000; // the first user's uid (admin), who owns what WebDAV creates
    const u = (p: string) => `nfs://127.0.0.1${p}?version=3&nfsport=${port}&mountport=${port}&uid=${user}&gid=${user}`;
    const call = (proc: number, args: Uint8Array) => rpc(port, NFS_PROG, proc, args, user);
    const auth = ['-u', `admin:${srv.password}`];
    try {
      for (const d of ['s', 'q', 'w']) assert.equal(curl([...auth, '-X', 'MKCOL', `${srv.url}${d}/`]).status, '201');
      const oldBody = randomBytes(20_000);
      const local = join(data, 'in.bin');
      writeFileSync(local, oldBody);
      assert.equal((await run('nfs-cp', [local, u('/s/a.bin')])).code, 0);
      const snap = await dw(['snapshot', 'create', 'before', '--data', data]);
      assert.equal(snap.code, 0, snap.stderr);
      const root = decodeMntResult(await rpc(port, MOUNT_PROG, MOUNT_PROC.MNT, encodeDirpath('/'), user)).fh!;
      const look = async (dir: Buffer, name: string): Promise<Buffer> => {
        const r = await call(PROC.LOOKUP, encodeArgs(PROC.LOOKUP, { dir, name }));
        assert.equal(r.uint(), NFS3.OK, `LOOKUP ${name}`);
        return r.opaque(64);
      };
      // Rewrite the live file after the snapshot (libnfs's nfs-cp does not overwrite: GUARDED create).
      const newBody = Buffer.from(oldBody);
      const patch = randomBytes(8192);
      patch.copy(newBody, 4096);
      const live = await look(await look(root, 's'), 'a.bin');
      const pw = await call(PROC.WRITE, encodeArgs(PROC.WRITE, { fh: live, offset: 4096n, count: patch.length, stable: STABLE.FILE_SYNC, data: patch }));
      assert.equal(pw.uint(), NFS3.OK);
      const old = await run('nfs-cat', [u('/.snapshots/before/s/a.bin')]);
      assert.equal(old.code, 0, old.stderr);
      assert.equal(sha(old.stdout), sha(oldBody), 'the snapshot keeps the old bytes');
      assert.equal(sha((await run('nfs-cat', [u('/s/a.bin')])).stdout), sha(newBody), 'the live file has the new ones');
      const ls = await run('nfs-ls', [u('/.snapshots/before/s')]);
      assert.match(ls.stdout.toString(), /a\.bin/);
      const snapS = await look(await look(await look(root, '.snapshots'), 'before'), 's');
      const inSnap = await call(PROC.CREATE, encodeArgs(PROC.CREATE, { where: { dir: snapS, name: 'new.bin' }, mode: 0, attr: {} }));
      assert.equal(inSnap.uint(), NFS3.ERR_ROFS, 'a snapshot is read-only');
      assert.equal((await call(PROC.REMOVE, encodeArgs(PROC.REMOVE, { dir: snapS, name: 'a.bin' }))).uint(), NFS3.ERR_ROFS);

      // Quota: 1 MiB on /q; the second MiB written is refused with NFS3ERR_DQUOT.
      const q = await dw(['quota', 'set', '--dir', '/q', '--bytes', '1M', '--data', data]);
      assert.equal(q.code, 0, q.stderr);
      const qDir = await look(root, 'q');
      const cr = await call(PROC.CREATE, encodeArgs(PROC.CREATE, { where: { dir: qDir, name: 'big.bin' }, mode: 0, attr: {} }));
      assert.equal(cr.uint(), NFS3.OK);
      const bigFh = cr.optional((x) => x.opaque(64))!;
      const mib = randomBytes(1 << 20);
      const w1 = await call(PROC.WRITE, encodeArgs(PROC.WRITE, { fh: bigFh, offset: 0n, count: 900_000, stable: STABLE.FILE_SYNC, data: mib.subarray(0, 900_000) }));
      assert.equal(w1.uint(), NFS3.OK, 'under the quota');
      const w2 = await call(PROC.WRITE, encodeArgs(PROC.WRITE, { fh: bigFh, offset: 900_000n, count: mib.length, stable: STABLE.FILE_SYNC, data: mib }));
      assert.equal(w2.uint(), NFS3.ERR_DQUOT, 'over the quota');
      writeFileSync(local, randomBytes(2 << 20));
      const cpOver = await run('nfs-cp', [local, u('/q/over.bin')]);
      assert.notEqual(cpOver.code, 0, 'nfs-cp of 2 MiB into a 1 MiB quota fails');

      // Retention: a closed file in /w can be neither removed nor rewritten.
      writeFileSync(local, Buffer.from('signed contract\n'));
      assert.equal((await run('nfs-cp', [local, u('/w/doc.txt')])).code, 0);
      // NFS has no close: the server's cached open handle goes after 2 s idle, and that is the
      // close that starts a file's retention (RFC 1813 clients keep no open state).
      await new Promise((r) => setTimeout(r, 3000));
      const ret = await dw(['retention', 'set', '/w', '--period', '1h', '--data', data]);
      assert.equal(ret.code, 0, ret.stderr);
      const wDir = await look(root, 'w');
      const doc = await look(wDir, 'doc.txt');
      assert.equal((await call(PROC.REMOVE, encodeArgs(PROC.REMOVE, { dir: wDir, name: 'doc.txt' }))).uint(), NFS3.ERR_PERM, 'REMOVE under retention');
      const rw = await call(PROC.WRITE, encodeArgs(PROC.WRITE, { fh: doc, offset: 0n, count: 4, stable: STABLE.FILE_SYNC, data: Buffer.from('void') }));
      assert.equal(rw.uint(), NFS3.ERR_PERM, 'WRITE under retention');
      assert.equal((await run('nfs-cat', [u('/w/doc.txt')])).stdout.toString(), 'signed contract\n');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('exports from config.json: a client not listed cannot mount; bad values name the field', async () => {
    const data = await tempDir();
    const cfg = join(data, 'nfs-config.json');
    writeFileSync(cfg, JSON.stringify({ nfs: { exports: [{ path: '/', clients: ['10.0.0.0/8', 'fd00::/8'] }] } }));
    const srv = await serve(data, ['--nfs', '127.0.0.1:0', '--config', cfg]);
    try {
      const port = Number(/NFS:\s+\S+ port (\d+)/.exec(srv.stderr())?.[1]);
      assert.ok(port > 0, srv.stderr());
      const ls = await run('nfs-ls', [`nfs://127.0.0.1/?version=3&nfsport=${port}&mountport=${port}`]);
      assert.notEqual(ls.code, 0, 'refused');
      const mnt = decodeMntResult(await rpc(port, MOUNT_PROG, MOUNT_PROC.MNT, encodeDirpath('/')));
      assert.equal(mnt.status, 13, 'MNT3ERR_ACCES');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    writeFileSync(cfg, JSON.stringify({ nfs: { listen: '127.0.0.1:0', exports: [{ path: '/', squash: 'root_squash' }] } }));
    const bad = spawnSync(process.execPath, [DW, 'serve', '--data', data, '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /nfs\.exports\[0\]\.squash must be "root", "all" or "none"/);
  });
});
