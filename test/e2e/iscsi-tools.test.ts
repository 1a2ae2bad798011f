/**
 * End-to-end test of the iSCSI target with Debian's libiscsi tools (libiscsi-bin) and qemu-img's
 * iscsi driver against `dw serve --iscsi 127.0.0.1:0` on a RocksDB + rs:4+2 data folder:
 * volumes made with `dw volume create`, targets with `dw iscsi target add` through the admin
 * socket while the server runs (the catalogue is read at each login).
 *
 * - `iscsi-ls -s` (discovery + a login per target) lists the targets and their LUNs with sizes;
 * - `iscsi-inq` reads the standard INQUIRY (vendor DW), `iscsi-readcapacity16` the exact size;
 * - CHAP: the right secret in the URL (iscsi://user%secret@host:port/IQN/LUN) logs in, a wrong one
 *   is refused with "Authentication failure"; an initiator outside a target's ACL is refused;
 * - data: qemu-img writes an 8 MiB random image to a LUN and reads it back identical (R2T and
 *   Data-In at the sizes a real initiator picks);
 * - a target removed with `dw iscsi target remove` is gone for the next login.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, iscsiPort, serve, tempDir, type Server } from './gateway-harness.js';

/** 127.0.0.1:PORT of the server (its port picked by the kernel). */
let HOST = '';
const T1 = 'iqn.2026-11.test.dw:disks';
const T2 = 'iqn.2026-11.test.dw:chap';
const T3 = 'iqn.2026-11.test.dw:acl';
const CHAP = { user: 'alice', secret: 'a-secret-of-16ch' };
const have = (tool: string): boolean => spawnSync(tool, ['--help'], { encoding: 'utf8' }).error === undefined;

function run(cmd: string, args: string[], timeout = 60_000): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

describe('iSCSI with libiscsi tools and qemu-img', { skip: !have('iscsi-ls') && 'libiscsi-bin is not installed' }, () => {
  let srv: Server;
  let dir: string;

  const admin = async (args: string[]): Promise<string> => {
    const r = await dw([...args, '--data', dir]);
    assert.equal(r.code, 0, `dw ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = await tempDir();
    srv = await serve(dir, ['--iscsi', '127.0.0.1:0', '--sftp', 'off']);
    const port = iscsiPort(srv);
    assert.ok(port > 1024, srv.stderr());
    HOST = `127.0.0.1:${port}`;
    await admin(['volume', 'create', 'disk1', '--size', '64M']);
    await admin(['volume', 'create', 'disk2', '--size', '32M']);
    await admin(['volume', 'create', 'disk3', '--size', '16M']);
    await admin(['iscsi', 'target', 'add', T1, '--lun', '0=disk1', '--lun', '1=disk2']);
    await admin(['iscsi', 'target', 'add', T2, '--lun', '0=disk3', '--chap', `${CHAP.user}:${CHAP.secret}`]);
    await admin(['iscsi', 'target', 'add', T3, '--lun', '0=disk3', '--initiator', 'iqn.2026-11.test.dw:allowed']);
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('dw iscsi target list shows the targets, never a secret', async () => {
    const out = await admin(['iscsi', 'target', 'list']);
    assert.match(out, new RegExp(`${T1}\\n  LUN 0: disk1\\n  LUN 1: disk2`));
    assert.match(out, /auth: CHAP user alice/);
    assert.doesNotMatch(out, new RegExp(CHAP.secret));
    const json = JSON.parse(await admin(['iscsi', 'target', 'list', '--json'])) as Array<{ iqn: string; chap?: Record<string, unknown> }>;
    assert.deepEqual(json.map((t) => t.iqn), [T3, T2, T1].sort());
    assert.deepEqual(json.find((t) => t.iqn === T2)?.chap, { user: 'alice' });
  });

  test('iscsi-ls -s lists the targets and their LUNs with sizes', () => {
    const r = run('iscsi-ls', ['-s', `iscsi://${HOST}`]);
    assert.match(r.out, new RegExp(`Target:${T1} Portal:${HOST},1`));
    assert.match(r.out, /Lun:0\s+Type:DIRECT_ACCESS \(Size:63M\)/);
    assert.match(r.out, /Lun:1\s+Type:DIRECT_ACCESS \(Size:31M\)/);
    // the ACL hides T3 from libiscsi's default initiator name
    assert.doesNotMatch(r.out, new RegExp(T3));
  });

  test('iscsi-inq and iscsi-readcapacity16', () => {
    const inq = run('iscsi-inq', [`iscsi://${HOST}/${T1}/0`]);
    assert.equal(inq.code, 0, inq.out);
    assert.match(inq.out, /Peripheral Device Type:DIRECT_ACCESS/);
    assert.match(inq.out, /Vendor:DW/);
    const cap = run('iscsi-readcapacity16', [`iscsi://${HOST}/${T1}/1`]);
    assert.equal(cap.code, 0, cap.out);
    assert.match(cap.out, /Total size:33554432/);
    assert.match(cap.out, /LOGICAL BLOCK LENGTH IN BYTES:512/);
  });

  test('CHAP: the right secret logs in, a wrong one is refused', () => {
    const ok = run('iscsi-inq', [`iscsi://${CHAP.user}%${CHAP.secret}@${HOST}/${T2}/0`]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /Vendor:DW/);
    const ls = run('iscsi-ls', ['-s', `iscsi://${CHAP.user}%${CHAP.secret}@${HOST}`]);
    assert.match(ls.out, new RegExp(`Target:${T2}[^\\n]*\\nLun:0\\s+Type:DIRECT_ACCESS \\(Size:15M\\)`));
    const bad = run('iscsi-inq', [`iscsi://${CHAP.user}%wrong-secret-0000@${HOST}/${T2}/0`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /Authentication failure/);
    const none = run('iscsi-inq', [`iscsi://${HOST}/${T2}/0`]);
    assert.notEqual(none.code, 0);
  });

  test('ACL: only the listed initiator logs in', () => {
    const ok = run('iscsi-inq', ['-i', 'iqn.2026-11.test.dw:allowed', `iscsi://${HOST}/${T3}/0`]);
    assert.equal(ok.code, 0, ok.out);
    const no = run('iscsi-inq', ['-i', 'iqn.2026-11.test.dw:other', `iscsi://${HOST}/${T3}/0`]);
    assert.notEqual(no.code, 0);
    assert.match(no.out, /Authorization failure|not allowed|failed/i);
  });

  test('qemu-img writes an 8 MiB image to a LUN and reads it back identical', { skip: !have('qemu-img') && 'qemu-img is not installed' }, async () => {
    const work = await tempDir();
    const src = join(work, 'src.raw');
    const back = join(work, 'back.raw');
    const data = randomBytes(8 << 20);
    writeFileSync(src, data);
    const url = `iscsi://${HOST}/${T1}/0`;
    const w = run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, url], 120_000);
    assert.equal(w.code, 0, w.out);
    const r = run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, back], 120_000);
    assert.equal(r.code, 0, r.out);
    const got = readFileSync(back);
    assert.equal(got.length, 64 << 20);
    assert.ok(got.subarray(0, data.length).equals(data), 'the first 8 MiB read back are the bytes written');
    assert.ok(got.subarray(data.length).every((b) => b === 0), 'the rest of the volume reads as zeros');
  });

  test('a target naming a volume that does not exist is refused', async () => {
    const r = await dw(['iscsi', 'target', 'add', 'iqn.2026-11.test.dw:nope', '--lun', '0=nope', '--data', dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /LUN 0: no volume nope/);
  });

  test('a removed target is gone for the next login', async () => {
    await admin(['iscsi', 'target', 'remove', T3]);
    const r = run('iscsi-inq', ['-i', 'iqn.2026-11.test.dw:allowed', `iscsi://${HOST}/${T3}/0`]);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /Not found|not found|failed/i);
  });
});
