/**
 * Issue 8, acceptance 3, with real initiators (Debian qemu-utils + qemu-block-extra, libiscsi):
 * `qemu-img convert` writes a 1 GiB disk image of random bytes to an iscsi:// LUN of
 * `dw serve --iscsi` and reads it back identical; a snapshot of the volume taken before an
 * overwrite, exported as a read-only LUN, still shows the old contents; a write that qemu-io
 * flushed (SCSI SYNCHRONIZE CACHE) is there after `kill -9` and a restart.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, iscsiPort, serve, tempDir, type Server } from './gateway-harness.js';

const MIB = 1024 * 1024;
const SIZE = 1024 * MIB;

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 10 * 60_000);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

async function sha256(path: string, length = SIZE): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A file of `size` pseudo-random bytes (fast: one random MiB varied per MiB). */
async function randomImage(path: string, size: number): Promise<void> {
  const base = randomBytes(MIB);
  async function* chunks() {
    for (let i = 0; i < size / MIB; i++) {
      const b = Buffer.from(base);
      b.writeUInt32LE(i, 0);
      b.writeUInt32LE(i * 2654435761 >>> 0, MIB / 2);
      yield b;
    }
  }
  await pipeline(chunks(), createWriteStream(path));
}

describe('qemu-img and qemu-io against dw serve --iscsi', () => {
  let dir: string;
  let work: string;
  let srv: Server;
  let url: string;
  let want: string;

  const lun = (iqn: string) => `iscsi://127.0.0.1:${iscsiPort(srv)}/${iqn}/0`;

  before(async () => {
    dir = await tempDir();
    work = await tempDir();
    srv = await serve(dir, ['--iscsi', '127.0.0.1:0']);
    assert.ok(iscsiPort(srv) > 1024, srv.stderr());
    for (const args of [['volume', 'create', 'disk', '--size', '1G'], ['iscsi', 'target', 'add', 'iqn.2026-11.dw:disk', '--lun', '0=disk']]) {
      const r = await dw([...args, '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
    }
    url = lun('iqn.2026-11.dw:disk');
    await randomImage(join(work, 'image.raw'), SIZE);
    want = await sha256(join(work, 'image.raw'));
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('qemu-img convert writes a 1 GiB image and reads it back identical', async () => {
    const w = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(work, 'image.raw'), url]);
    assert.equal(w.code, 0, w.out);
    const r = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, join(work, 'back.raw')]);
    assert.equal(r.code, 0, r.out);
    assert.equal(await sha256(join(work, 'back.raw')), want);
  });

  test('a snapshot taken before an overwrite keeps the old contents (as a read-only LUN)', async () => {
    const s = await dw(['volume', 'snapshot', 'disk@before', '--data', dir]);
    assert.equal(s.code, 0, s.stderr);
    const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 64M', '-c', 'flush', url]);
    assert.equal(w.code, 0, w.out);
    const live = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 64M', url]);
    assert.equal(live.code, 0, live.out);
    const t = await dw(['iscsi', 'target', 'add', 'iqn.2026-11.dw:before', '--lun', '0=disk@before', '--data', dir]);
    assert.equal(t.code, 0, t.stderr);
    const r = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', lun('iqn.2026-11.dw:before'), join(work, 'snap.raw')]);
    assert.equal(r.code, 0, r.out);
    assert.equal(await sha256(join(work, 'snap.raw')), want, 'the snapshot LUN shows the image as it was');
    const ro = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 4k', lun('iqn.2026-11.dw:before')]);
    assert.notEqual(ro.code, 0, `a write to the snapshot LUN must fail: ${ro.out}`);
  });

  test('a write answered after SYNCHRONIZE CACHE survives kill -9', async () => {
    const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xc3 128M 16M', '-c', 'flush', url]);
    assert.equal(w.code, 0, w.out);
    await srv.kill();
    srv = await serve(dir, ['--iscsi', '127.0.0.1:0']);
    url = lun('iqn.2026-11.dw:disk');
    const r = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0xc3 128M 16M', '-c', 'read -P 0x5a 0 64M', url]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /read 16777216\/16777216 bytes at offset 134217728/);
  });
});
