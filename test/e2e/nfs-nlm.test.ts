/**
 * End-to-end test of NLM v4 byte-range locks and NSM in the real gateway (`dw serve --nfs` on
 * its default RocksDB + rs:4+2 pool): NLM locks conflict with WebDAV LOCK (curl) and with POSIX
 * fcntl locks on the FUSE mount (python3 fcntl.lockf, when FUSE can be mounted), both ways;
 * after a kill -9 and a restart the gateway sends SM_NOTIFY to the client host's statd and
 * honours only reclaims during its grace period. NFSv4 locks (our NFSv4.1 test client,
 * test/nfs4) and WebDAV LOCK exclude each other the same way.
 *
 * The NLM client is a test RPC client built on our own wire codecs: Debian has no NLM client
 * tool that works without a kernel NFS mount. The client host's portmapper, NLM and statd are a
 * tiny RPC listener in this test, whose port the gateway is given as nfs.peerPortmapPort.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { rpcCall, serveRpc } from '../../protocols/nfs/nlm-rpc.js';
import { portmapProgram } from '../../protocols/nfs/programs.js';
import type { Programs } from '../../protocols/nfs/session.js';
import { decodeMntResult, encodeDirpath, MOUNT_PROC, MOUNT_PROG } from '../../protocols/nfs/wire/mount.js';
import { encodeArgs, NFS3, NFS_PROG, PROC } from '../../protocols/nfs/wire/nfs3.js';
import {
  decodeRes, decodeTestArgs, decodeTestRes, encodeLockArgs, encodeTestArgs, encodeUnlockArgs, NLM4, NLM_PROC, NLM_PROG, type Nlm4Lock,
} from '../../protocols/nfs/wire/nlm.js';
import { decodeStatChge, SM_PROC, SM_PROG, type StatChge } from '../../protocols/nfs/wire/nsm.js';
import { IPPROTO_TCP } from '../../protocols/nfs/wire/portmap.js';
import { AUTH, encodeAuthSys } from '../../protocols/nfs/wire/rpc.js';
import { XdrWriter } from '../../protocols/nfs/wire/xdr.js';
import { cleanupAll, curl, serve, tempDir, type Server } from './gateway-harness.js';
import { davLock, davUnlock, LOCK_PY, noFuse } from './lock-peers.js';
import { Nfs4Session } from '../nfs4/client.js';
import { CLAIM, LOCK_TYPE, NFS4ERR, ops, resultOf, SHARE_ACCESS, SHARE_DENY } from '../nfs4/nfs4.js';

after(cleanupAll);

const CRED = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'e2e-client', uid: 0, gid: 0, gids: [] }) };
const nfsPort = (srv: Server): number => {
  const p = Number(/NFS:\s+\S+ port (\d+)/.exec(srv.stderr())?.[1]);
  assert.ok(p > 0, srv.stderr());
  return p;
};
const call = (port: number, prog: number, vers: number, proc: number, args: Uint8Array) => rpcCall('127.0.0.1', port, { prog, vers, proc, cred: CRED }, args, 10_000);

/** The NFSv3 handle of /name: MNT of / and LOOKUP. */
async function handleOf(port: number, name: string): Promise<Buffer> {
  const root = decodeMntResult(await call(port, MOUNT_PROG, 3, MOUNT_PROC.MNT, encodeDirpath('/'))).fh!;
  const r = await call(port, NFS_PROG, 3, PROC.LOOKUP, encodeArgs(PROC.LOOKUP, { dir: root, name }));
  assert.equal(r.uint(), NFS3.OK, `LOOKUP ${name}`);
  return r.opaque(64);
}

const lk = (fh: Buffer, who = 'e2e-client', svid = 42, offset = 0n, len = 100n): Nlm4Lock => ({ callerName: who, fh, oh: Buffer.from(`${svid}@${who}`), svid, offset, len });
const nlmLock = async (port: number, l: Nlm4Lock, reclaim = false) =>
  decodeRes(await call(port, NLM_PROG, 4, NLM_PROC.LOCK, encodeLockArgs({ cookie: Buffer.from('e2e'), block: false, exclusive: true, alock: l, reclaim, state: 1 }))).stat;
const nlmUnlock = async (port: number, l: Nlm4Lock) => decodeRes(await call(port, NLM_PROG, 4, NLM_PROC.UNLOCK, encodeUnlockArgs({ cookie: Buffer.from('e2e'), alock: l }))).stat;
const nlmTest = async (port: number, l: Nlm4Lock) => decodeTestRes(await call(port, NLM_PROG, 4, NLM_PROC.TEST, encodeTestArgs({ cookie: Buffer.from('e2e'), exclusive: true, alock: l })));


describe('NLM v4 in dw serve', () => {
  test('NLM locks and WebDAV LOCK (and fcntl on the FUSE mount) exclude each other both ways', { timeout: 180_000 }, async (t) => {
    if (noFuse) t.diagnostic(`the FUSE half is not run: ${noFuse}`);
    const tmp = await tempDir();
    const data = join(tmp, 'data');
    const mp = join(tmp, 'mnt');
    await mkdir(mp);
    const srv = await serve(data, ['--nfs', '127.0.0.1:0', ...(noFuse ? [] : ['--fuse', mp])]);
    try {
      const port = nfsPort(srv);
      const local = join(tmp, 'f.bin');
      writeFileSync(local, Buffer.alloc(4096, 1));
      assert.equal(curl(['-u', `admin:${srv.password}`, '-T', local, new URL('/locked.bin', srv.url).href]).status, '201');
      const fh = await handleOf(port, 'locked.bin');
      const me = lk(fh);

      // WebDAV holds it: NLM is denied and TEST names the holder's range (the whole file).
      const dav = davLock(srv, '/locked.bin');
      assert.equal(dav.status, '200');
      assert.equal(await nlmLock(port, me), NLM4.DENIED);
      const t = await nlmTest(port, me);
      assert.equal(t.stat, NLM4.DENIED);
      assert.deepEqual([t.holder?.exclusive, t.holder?.offset, t.holder?.len], [true, 0n, 0n]);
      assert.equal(davUnlock(srv, '/locked.bin', dav.token!), '204');

      // NLM holds it: WebDAV LOCK is refused (423), and so is an fcntl lock on the FUSE mount.
      assert.equal(await nlmLock(port, me), NLM4.GRANTED);
      assert.equal(davLock(srv, '/locked.bin').status, '423');
      const py = join(tmp, 'lock.py');
      await writeFile(py, LOCK_PY);
      const fuseTry = () => spawnSync('python3', [py, join(mp, 'locked.bin'), '10', '50'], { encoding: 'utf8', timeout: 30_000 }).stdout;
      if (!noFuse) assert.match(fuseTry(), /^busy 11/, 'fcntl on the FUSE mount refused while NLM holds [0, 100)');
      assert.equal(await nlmUnlock(port, me), NLM4.GRANTED);
      if (!noFuse) assert.match(fuseTry(), /^got/, 'free after NLM UNLOCK');
      const again = davLock(srv, '/locked.bin');
      assert.equal(again.status, '200');
      assert.equal(davUnlock(srv, '/locked.bin', again.token!), '204');
      // The FUSE side holding a lock denies NLM.
      if (!noFuse) {
        const holder = spawn('python3', ['-c', `import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
print('held', flush=True)
time.sleep(2)`, join(mp, 'locked.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((r) => holder.stdout.once('data', () => r()));
        assert.equal(await nlmLock(port, lk(fh, 'e2e-client', 42, 50n, 10n)), NLM4.DENIED);
        await new Promise<void>((r) => holder.once('exit', () => r()));
        assert.equal(await nlmLock(port, lk(fh, 'e2e-client', 42, 50n, 10n)), NLM4.GRANTED);
      }
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('NFSv4 LOCK and WebDAV LOCK exclude each other both ways (our NFSv4.1 test client)', { timeout: 120_000 }, async () => {
    const tmp = await tempDir();
    const srv = await serve(join(tmp, 'data'), ['--nfs', '127.0.0.1:0']);
    try {
      const port = nfsPort(srv);
      const local = join(tmp, 'f.bin');
      writeFileSync(local, Buffer.alloc(4096, 2));
      assert.equal(curl(['-u', `admin:${srv.password}`, '-T', local, new URL('/v4.bin', srv.url).href]).status, '201');
      // AUTH_SYS as admin (uid 1000, who owns the file): the default export squashes root.
      const s = await Nfs4Session.create('127.0.0.1', port, { cred: { uid: 1000, gid: 1000 } });
      try {
        await s.ok([ops.reclaimComplete()]);
        const owner = { clientid: s.clientid, owner: Buffer.from('e2e-open') };
        const o = await s.ok([ops.putrootfh(), ops.open({ access: SHARE_ACCESS.BOTH, deny: SHARE_DENY.NONE, owner, how: { create: false }, claim: { claim: CLAIM.NULL, name: 'v4.bin' } }), ops.getfh()]);
        const open = resultOf(o, 'OPEN').stateid;
        const fh = resultOf(o, 'GETFH').fh;
        const locker = { newOwner: true as const, openSeqid: 0, openStateid: open, lockSeqid: 0, owner: { clientid: s.clientid, owner: Buffer.from('e2e-lock') } };

        // WebDAV holds the file: the NFSv4 LOCK is NFS4ERR_DENIED.
        const dav = davLock(srv, '/v4.bin');
        assert.equal(dav.status, '200');
        const denied = await s.seq([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, locker)]);
        assert.equal(denied.results.find((r) => r.name === 'LOCK')?.status, NFS4ERR.DENIED);
        assert.equal(davUnlock(srv, '/v4.bin', dav.token!), '204');

        // NFSv4 holds [0, 100): WebDAV LOCK is 423 until LOCKU.
        const got = await s.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, locker)]);
        const lockSid = resultOf(got, 'LOCK').stateid!;
        assert.equal(davLock(srv, '/v4.bin').status, '423');
        await s.ok([ops.putfh(fh), ops.locku(LOCK_TYPE.WRITE, lockSid, 0, 100)]);
        const again = davLock(srv, '/v4.bin');
        assert.equal(again.status, '200');
        assert.equal(davUnlock(srv, '/v4.bin', again.token!), '204');
      } finally {
        await s.destroy();
      }
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('after kill -9 and a restart: SM_NOTIFY reaches the client statd, only the reclaim is honoured in grace', { timeout: 180_000 }, async () => {
    const tmp = await tempDir();
    const data = join(tmp, 'data');
    // The client host: a portmapper naming its NLM and statd, a statd recording SM_NOTIFY.
    const notified: StatChge[] = [];
    let fakePort = 0;
    const programs: Programs = new Map([
      [100000, portmapProgram(() => [{ prog: NLM_PROG, vers: 4, prot: IPPROTO_TCP, port: fakePort }, { prog: SM_PROG, vers: 1, prot: IPPROTO_TCP, port: fakePort }])],
      [SM_PROG, { name: 'statd', versions: new Map([[1, { [SM_PROC.NOTIFY]: ({ call: c }) => { notified.push(decodeStatChge(c.args)); return new Uint8Array(0); } }]]) }],
      [NLM_PROG, { name: 'nlm', versions: new Map([[4, { [NLM_PROC.GRANTED]: ({ call: c }) => new XdrWriter().opaque(decodeTestArgs(c.args).cookie).int(NLM4.GRANTED).bytes() }]]) }],
    ]);
    const fake = await serveRpc(programs);
    fakePort = fake.port;
    const cfg = join(tmp, 'config.json');
    writeFileSync(cfg, JSON.stringify({ nfs: { listen: '127.0.0.1:0', graceSeconds: 60, peerPortmapPort: fake.port, serverName: 'dw-e2e' } }));
    let srv = await serve(data, ['--config', cfg]);
    try {
      let port = nfsPort(srv);
      assert.equal(curl(['-u', `admin:${srv.password}`, '-T', cfg, new URL('/shared.txt', srv.url).href]).status, '201');
      const fh = await handleOf(port, 'shared.txt');
      assert.equal(await nlmLock(port, lk(fh)), NLM4.GRANTED);
      const state1 = JSON.parse(readFileSync(join(data, 'nfs-locks.json'), 'utf8'));
      assert.deepEqual(state1.clients.map((c: { id: string }) => c.id), ['nlm:e2e-client@127.0.0.1']);
      assert.equal(notified.length, 0);
      const password = srv.password;
      await srv.kill();

      srv = await serve(data, ['--config', cfg]);
      srv.password = password;
      port = nfsPort(srv);
      const end = Date.now() + 20_000;
      while (!notified.length && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(notified, [{ monName: 'dw-e2e', state: state1.state + 2 }]);
      assert.equal(await nlmLock(port, lk(fh, 'someone-else', 7, 200n, 10n)), NLM4.DENIED_GRACE_PERIOD);
      assert.equal((await nlmTest(port, lk(fh, 'someone-else', 7))).stat, NLM4.DENIED_GRACE_PERIOD);
      assert.equal(await nlmLock(port, lk(fh), true), NLM4.GRANTED, 'the reclaim');
      assert.equal(davLock(srv, '/shared.txt').status, '423', 'the reclaimed lock is real');
    } finally {
      assert.equal(await srv.stop(), 0);
      await fake.close();
    }
  });
});
