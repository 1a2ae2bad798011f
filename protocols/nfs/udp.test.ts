/**
 * RPC over UDP: PORTMAP and MOUNT answer datagrams; NFS does not. (Debian's rpcinfo -u asks the
 * rpcbind on port 111 first even with -n, so it is not used here.)
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { createMemoryVfs } from '../../vfs/index.js';
import { mountProgram, portmapProgram } from './programs.js';
import type { Programs } from './session.js';
import { startNfsServer } from './server.js';
import { listenUdp } from './udp.js';
import { decodeExports, decodeMntResult, encodeDirpath, MNT3, MOUNT_PROC, MOUNT_PROG } from './wire/mount.js';
import { encodeMapping, IPPROTO_UDP, PMAP_PROC, PMAP_PROG, type Mapping } from './wire/portmap.js';
import { ACCEPT, AUTH, decodeReply, encodeCall, type RpcReply } from './wire/rpc.js';
import { XdrWriter } from './wire/xdr.js';

const mapping = (m: Mapping): Buffer => { const w = new XdrWriter(); encodeMapping(w, m); return w.bytes(); };

function ask(port: number, msg: Uint8Array): Promise<RpcReply | 'timeout'> {
  const c = createSocket('udp4');
  return new Promise((resolve) => {
    const t = setTimeout(() => { c.close(); resolve('timeout'); }, 1000);
    c.on('message', (m) => { clearTimeout(t); c.close(); resolve(decodeReply(m)); });
    c.send(msg, port, '127.0.0.1');
  });
}

test('UDP: PORTMAP GETPORT and MOUNT EXPORT answer datagrams; NFS is PROG_UNAVAIL; junk is dropped', async () => {
  const v = await createMemoryVfs();
  let udpPort = 0;
  const programs: Programs = new Map([
    [PMAP_PROG, portmapProgram(() => [{ prog: MOUNT_PROG, vers: 3, prot: IPPROTO_UDP, port: udpPort }])],
    [MOUNT_PROG, mountProgram(v.vfs, 1)],
  ]);
  const udp = await listenUdp(programs, '127.0.0.1', 0);
  udpPort = udp.port;
  try {
    const cred = { flavor: AUTH.NONE, body: Buffer.alloc(0) };
    const gp = await ask(udp.port, encodeCall({ xid: 1, prog: PMAP_PROG, vers: 2, proc: PMAP_PROC.GETPORT, cred }, mapping({ prog: MOUNT_PROG, vers: 3, prot: IPPROTO_UDP, port: 0 })));
    assert.ok(gp !== 'timeout' && gp.kind === 'accepted' && gp.stat === ACCEPT.SUCCESS);
    assert.equal(gp.results.uint(), udp.port, 'GETPORT names the UDP port');
    const ex = await ask(udp.port, encodeCall({ xid: 2, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.EXPORT, cred }, new Uint8Array(0)));
    assert.ok(ex !== 'timeout' && ex.kind === 'accepted' && ex.stat === ACCEPT.SUCCESS);
    assert.deepEqual(decodeExports(ex.results).map((e) => e.dir), ['/']);
    const nfs = await ask(udp.port, encodeCall({ xid: 3, prog: 100003, vers: 3, proc: 0, cred }, new Uint8Array(0)));
    assert.ok(nfs !== 'timeout' && nfs.kind === 'accepted' && nfs.stat === ACCEPT.PROG_UNAVAIL, 'NFS stays on TCP');
    assert.equal(await ask(udp.port, Buffer.from('not an RPC message at all')), 'timeout', 'junk gets no answer');
    const again = await ask(udp.port, encodeCall({ xid: 4, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.NULL, cred }, new Uint8Array(0)));
    assert.ok(again !== 'timeout' && again.kind === 'accepted', 'still serving after junk');
  } finally {
    await udp.close();
    await v.close();
  }
});

test('startNfsServer answers PORTMAP and MOUNT over UDP on its TCP port number (udp: false turns it off)', async () => {
  const v = await createMemoryVfs();
  const cred = { flavor: AUTH.NONE, body: Buffer.alloc(0) };
  const srv = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, nlm: false });
  try {
    const gp = await ask(srv.port, encodeCall({ xid: 9, prog: PMAP_PROG, vers: 2, proc: PMAP_PROC.GETPORT, cred }, mapping({ prog: MOUNT_PROG, vers: 3, prot: IPPROTO_UDP, port: 0 })));
    assert.ok(gp !== 'timeout' && gp.kind === 'accepted' && gp.stat === ACCEPT.SUCCESS);
    assert.equal(gp.results.uint(), srv.port, 'MOUNT over UDP is registered on the same port number');
    const mnt = await ask(srv.port, encodeCall({ xid: 10, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.MNT, cred }, encodeDirpath('/')));
    assert.ok(mnt !== 'timeout' && mnt.kind === 'accepted' && mnt.stat === ACCEPT.SUCCESS);
    assert.equal(decodeMntResult(mnt.results).status, MNT3.OK, 'MNT over UDP');
  } finally {
    await srv.close();
  }
  const off = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, nlm: false, udp: false });
  try {
    assert.equal(await ask(off.port, encodeCall({ xid: 11, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.NULL, cred }, new Uint8Array(0))), 'timeout');
  } finally {
    await off.close();
    await v.close();
  }
});
