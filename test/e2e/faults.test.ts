/**
 * Issue 2, acceptance 4 and 5, through the real gateway and real clients:
 * - faults: with the server stopped, delete 2 of the 6 device folders, or overwrite random bytes
 *   in the segment files of 2 devices; after a restart every file reads back identical;
 *   `dw device replace` rebuilds onto new folders, after which 2 other devices can be lost;
 *   `dw scrub` finds and repairs the corruption and says how many shards it fixed.
 * - crash: `kill -9` during an upload of 1,000 files; after a restart every upload that got its
 *   success reply reads back identical, the tree lists and reads cleanly, scrub finds nothing,
 *   and after reclaim the pool's logical usage equals the files' bytes and no dead space is left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, curlDownloadTree, curlUploadTree, dw, serve, tempDir, urlPath, type Server } from './gateway-harness.js';
import { copyTrees, diff, manifest, only, randomFile, sha256File } from './tree.js';

after(cleanupAll);

/** Every file of the tree under /t reads back by WebDAV with the manifest's content. */
async function readsBackIdentical(srv: Server, pw: string, want: Map<string, string>, tmp: string, label: string): Promise<void> {
  const out = join(tmp, `out-${label}`);
  await mkdir(out, { recursive: true });
  const got = await curlDownloadTree(srv.url, 'admin', pw, '/t', out);
  assert.deepEqual(got.statuses.filter((s) => s !== '200'), [], `${label}: every GET succeeds\n${got.stderr.slice(-1000)}`);
  assert.deepEqual(diff(only(want, 'f'), only(await manifest(out), 'f')), [], `${label}: every file identical`);
  await rm(out, { recursive: true, force: true });
}

async function segmentFiles(dev: string): Promise<string[]> {
  return (await readdir(dev)).filter((n) => n.startsWith('seg-')).map((n) => join(dev, n));
}

/** Overwrites `hits` random 32-byte runs in every segment file of the device. */
async function corrupt(dev: string, hits: number): Promise<number> {
  let n = 0;
  for (const f of await segmentFiles(dev)) {
    const size = (await stat(f)).size;
    const fh = await open(f, 'r+');
    for (let i = 0; i < hits; i++) { await fh.write(randomBytes(32), 0, 32, randomInt(0, Math.max(1, size - 32))); n++; }
    await fh.close();
  }
  return n;
}

test('faults: lose 2 devices, replace, lose 2 others; corrupt 2 devices, read back, scrub repairs', { timeout: 1_800_000 }, async () => {
  const tmp = await tempDir();
  const src = join(tmp, 'src');
  await mkdir(src);
  copyTrees(['/usr/share/zoneinfo'], src);
  randomFile(join(src, 'big.bin'), 24 << 20);
  await writeFile(join(src, 'empty'), '');
  const want = await manifest(src);
  const data = join(tmp, 'data');
  const devices = join(data, 'devices');

  let srv = await serve(data);
  const pw = srv.password!;
  const dirs = ['/t', ...[...only(want, 'd').keys()].map((d) => `/t/${d}`)];
  const up = curlUploadTree(srv.url, 'admin', pw, dirs, [...only(want, 'f').keys()].map((f) => [join(src, f), `/t/${f}`]));
  assert.deepEqual(up.statuses.filter((s) => s !== '201'), [], up.stderr.slice(-1000));
  assert.equal(await srv.stop(), 0);

  // Two device folders gone.
  await rm(join(devices, 'd1'), { recursive: true, force: true });
  await rm(join(devices, 'd4'), { recursive: true, force: true });
  srv = await serve(data);
  await readsBackIdentical(srv, pw, want, tmp, 'd1+d4 lost');
  const st = JSON.parse((await dw(['pool', 'status', '--json', '--data', data])).stdout);
  assert.deepEqual(st.devices.filter((d: { state: string }) => d.state !== 'online').map((d: { index: number }) => d.index).sort(), [1, 4]);

  // Rebuild both onto new folders while serving, then lose two of the others.
  for (const i of [1, 4]) {
    const r = await dw(['device', 'replace', String(i), join(tmp, `new${i}`), '--data', data]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(await srv.stop(), 0);
  await rm(join(devices, 'd0'), { recursive: true, force: true });
  await rm(join(devices, 'd2'), { recursive: true, force: true });
  srv = await serve(data);
  await readsBackIdentical(srv, pw, want, tmp, 'after replace, d0+d2 lost');
  for (const i of [0, 2]) assert.equal((await dw(['device', 'replace', String(i), join(tmp, `new${i}`), '--data', data])).code, 0);
  assert.equal(await srv.stop(), 0);

  // Random bytes over the segments of two devices: reads stay identical after a restart.
  assert.ok((await corrupt(join(devices, 'd3'), 40)) > 0);
  assert.ok((await corrupt(join(devices, 'd5'), 40)) > 0);
  srv = await serve(data);
  await readsBackIdentical(srv, pw, want, tmp, 'd3+d5 corrupted');
  assert.equal(await srv.stop(), 0);
  // Reads verify the shards they read; scrub verifies all (parity too) and repairs the rest.
  let r = await dw(['scrub', '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).unrecoverable, 0);

  // Corrupt two other devices; scrub (stopped) says how many shards it found and repaired.
  await corrupt(join(tmp, 'new1'), 40);
  await corrupt(join(tmp, 'new4'), 40);
  r = await dw(['scrub', '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  const s1 = JSON.parse(r.stdout);
  assert.ok(s1.badShards > 0, `scrub finds the corruption: ${r.stdout}`);
  assert.equal(s1.repaired, s1.badShards);
  assert.equal(s1.unrecoverable, 0);
  r = await dw(['scrub', '--json', '--data', data]);
  assert.equal(JSON.parse(r.stdout).badShards, 0, 'a second scrub finds nothing left');
  srv = await serve(data);
  await readsBackIdentical(srv, pw, want, tmp, 'after scrub');
  assert.equal(await srv.stop(), 0);
});

test('crash: kill -9 during an upload of 1,000 files; acknowledged files survive, space adds up', { timeout: 1_800_000 }, async () => {
  const tmp = await tempDir();
  const src = join(tmp, 'src');
  await mkdir(src);
  const names: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const size = i % 50 === 0 ? randomInt(1 << 20, 3 << 20) : randomInt(0, 64 << 10);
    await writeFile(join(src, `f${i}`), randomBytes(size));
    names.push(`f${i}`);
  }
  const data = join(tmp, 'data');
  let srv = await serve(data);
  const pw = srv.password!;
  assert.equal((await dw(['pool', 'status', '--json', '--data', data])).code, 0);
  const mk = spawn('curl', ['-sS', '-u', `admin:${pw}`, '-X', 'MKCOL', new URL('/up/', srv.url).href]);
  await new Promise((r) => mk.on('close', r));

  // One curl process uploads all files, 4 at a time; each reply's status is printed with its URL.
  const config = names.map((n) => `silent\noutput = "/dev/null"\nuser = "admin:${pw}"\nwrite-out = "%{http_code} %{url_effective}\\n"\nupload-file = "${join(src, n)}"\nurl = "${new URL(urlPath(`/up/${n}`), srv.url).href}"\n`).join('next\n');
  const cu = spawn('curl', ['--parallel', '--parallel-max', '4', '-K', '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  const done = new Promise((r) => cu.on('close', r));
  let killed = false;
  cu.stdout.on('data', (d) => {
    out += d;
    if (!killed && (out.match(/^20[14] /gm)?.length ?? 0) >= 300) { killed = true; void srv.kill(); }
  });
  cu.stdin.end(config);
  await done;
  assert.ok(killed, 'the server was killed mid-upload');
  const acked = [...out.matchAll(/^20[14] \S+\/up\/(f\d+)$/gm)].map((m) => m[1]!);
  assert.ok(acked.length >= 300 && acked.length < 1000, `acknowledged ${acked.length} of 1000 before the crash`);

  srv = await serve(data);
  const back = join(tmp, 'back');
  await mkdir(back);
  const got = await curlDownloadTree(srv.url, 'admin', pw, '/up', back);
  assert.deepEqual(got.statuses.filter((s) => s !== '200'), [], 'the tree lists and every file present reads');
  for (const n of acked) assert.equal(await sha256File(join(back, n)).catch(() => 'missing'), await sha256File(join(src, n)), `acknowledged upload ${n}`);
  const present = await readdir(back);
  let bytes = 0;
  for (const n of present) bytes += (await stat(join(back, n))).size;
  assert.equal(await srv.stop(), 0);

  let r = await dw(['scrub', '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).badShards, 0);
  r = await dw(['reclaim', '--threshold', '0', '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  const st = JSON.parse((await dw(['pool', 'status', '--json', '--data', data])).stdout);
  assert.equal(st.logicalUsed + st.inlineBytes, bytes, `pool logical usage (blocks and small files kept in rows) equals the ${present.length} files' bytes`);
  assert.equal(st.dead, 0, 'no dead space after reclaim');
});
