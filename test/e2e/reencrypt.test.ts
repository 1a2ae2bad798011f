// End-to-end test of `dw key reencrypt` (issue 5, acceptance 4: "kill -9 during `dw key
// reencrypt` and restart: it resumes, and all data reads") through the real `dw` CLI: an
// encrypted rs:2+1 pool (lz4, a dedup folder) filled over WebDAV with ~80 MiB, a reencrypt
// started on the running server and slowed by DW_REENCRYPT_PAUSE_MS, the server killed with
// SIGKILL in the middle of the walk, restarted: the walk resumes by itself and finishes; every
// file reads back byte for byte; a second reencrypt (--wait) drops the retired key (the record
// keeps only the first key and the current one); every block on disk names the current key;
// scrub is clean.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRow } from '../../raid/blocktable.js';
import { keys, prefixEnd } from '../../vfs/meta/keys.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';
import { cleanupAll, curl, dw, serve, type Server, tempDir } from './gateway-harness.js';

after(cleanupAll);

const PASS = 'correct horse battery staple';

interface KeyStatus { keys: number[]; current: number; reencrypt?: { to: number; from: number[]; cursor: number; done: number; total: number } }

async function keyStatus(dir: string): Promise<KeyStatus> {
  const r = await dw(['key', 'status', '--json', '--data', dir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as KeyStatus;
}

async function putFiles(srv: Server, pw: string, files: Map<string, Buffer>, tmp: string): Promise<void> {
  for (const [name, body] of files) {
    const local = join(tmp, `up-${name.replaceAll('/', '_')}`);
    await writeFile(local, body);
    const c = curl(['-u', `admin:${pw}`, '-T', local, `${srv.url}${name}`]);
    assert.match(c.status, /^20[14]$/, `PUT ${name}: ${c.status} ${c.body}`);
  }
}

function readsBack(srv: Server, pw: string, files: Map<string, Buffer>, tmp: string): void {
  for (const [name, body] of files) {
    const local = join(tmp, `down-${name.replaceAll('/', '_')}`);
    const c = spawnSync('curl', ['-sS', '-u', `admin:${pw}`, '-o', local, '-w', '%{http_code}', `${srv.url}${name}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(c.stdout, '200', `GET ${name}: ${c.stderr}`);
    assert.ok(readFileSync(local).equals(body), `${name} reads back byte for byte`);
  }
}

/** The data key id at the start of every live block's stored bytes (data shard 0 on disk); the server must be stopped. */
async function keyIdsOnDisk(dir: string, devices: string[]): Promise<Map<number, number>> {
  const kv = await openRocksKv(join(dir, 'meta'));
  const out = new Map<number, number>();
  try {
    for await (const [k, v] of kv.scan(keys.blockPrefix(), prefixEnd(keys.blockPrefix()))) {
      const id = Number(k.readBigUInt64BE(1));
      const s = decodeRow(v, id).shards[0]!;
      const fd = openSync(join(devices[s.device]!, `seg-${s.segment.toString(16).padStart(8, '0')}.dws`), 'r');
      const b = Buffer.alloc(4);
      readSync(fd, b, 0, 4, s.offset + 40);
      closeSync(fd);
      out.set(id, b.readUInt32LE(0));
    }
  } finally {
    await kv.close();
  }
  return out;
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `dw serve` with extra environment for the server process only. */
async function serveWith(dir: string, extra: string[], env: Record<string, string>): Promise<Server> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await serve(dir, extra);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

describe('dw key reencrypt (kill -9 and resume)', () => {
  test('kill -9 in the middle of the walk; the restarted server resumes and finishes; every file reads; a second reencrypt leaves only the first and the current key; scrub clean', { timeout: 600_000 }, async () => {
    const root = await tempDir();
    const dir = join(root, 'data');
    const disks = join(root, 'disks');
    await mkdir(disks);
    const devices = [0, 1, 2].map((i) => join(disks, `d${i}`));
    const passFile = join(root, 'pass.txt');
    await writeFile(passFile, `${PASS}\n`, { mode: 0o600 });
    let r = await dw(['pool', 'create', '--data', dir, '--layout', 'rs:2+1', '--compression', 'lz4', '--encryption', 'passphrase', '--passphrase-file', passFile, ...devices]);
    assert.equal(r.code, 0, r.stderr);

    // ~80 MiB: random files (stored raw), text (lz4), and two equal copies in a dedup folder.
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 10; i++) files.set(`rand-${i}.bin`, randomBytes(6 << 20));
    for (let i = 0; i < 4; i++) files.set(`text-${i}.txt`, Buffer.from(`line ${i}: the quick brown fox jumps over the lazy dog\n`.repeat(60_000)));
    const shared = randomBytes(5 << 20);
    files.set('dd/copy-a.bin', shared);
    files.set('dd/copy-b.bin', shared);

    let srv = await serveWith(dir, ['--passphrase-file', passFile], { DW_REENCRYPT_PAUSE_MS: '80' });
    const pw = srv.password!;
    assert.match(curl(['-u', `admin:${pw}`, '-X', 'MKCOL', `${srv.url}dd/`]).status, /^201$/);
    r = await dw(['dedup', 'set', '--dir', '/dd', 'on', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    await putFiles(srv, pw, files, root);
    let st = await keyStatus(dir);
    assert.deepEqual({ keys: st.keys, current: st.current, reencrypt: st.reencrypt }, { keys: [1], current: 1, reencrypt: undefined });

    // Start on the running server: it answers at once, the walk goes on in the background.
    r = await dw(['key', 'reencrypt', '--data', dir, '--passphrase-file', passFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reencrypt to data key 2 started: new blocks use data key 2 already; it runs in the background/);
    r = await dw(['key', 'reencrypt', '--data', dir, '--passphrase-file', passFile]);
    assert.equal(r.code, 1, 'a second start while one runs is refused');
    assert.match(r.stderr, /a reencrypt to data key 2 is already running \(\d+%\): follow it with `dw key reencrypt --wait`/);
    // A file written during the walk.
    const during = randomBytes(3 << 20);
    await putFiles(srv, pw, new Map([['during.bin', during]]), root);
    files.set('during.bin', during);
    const mid = await until('the walk to be under way', 120_000, async () => {
      const s = await keyStatus(dir);
      return s.reencrypt && s.reencrypt.done >= 15 ? s : undefined;
    });
    assert.deepEqual({ keys: mid.keys, current: mid.current, to: mid.reencrypt!.to, from: mid.reencrypt!.from }, { keys: [1, 2], current: 2, to: 2, from: [1] });
    r = await dw(['pool', 'status', '--json', '--data', dir]);
    assert.equal(JSON.parse(r.stdout).task?.kind, 'reencrypt', '`dw pool status` shows the task');
    await srv.kill(); // kill -9 in the middle of the walk

    st = await keyStatus(dir); // offline: from the pool row
    assert.ok(st.reencrypt, 'the walk is still recorded after the crash');
    assert.ok(st.reencrypt.done >= 15 && st.reencrypt.cursor > 0, `progress was saved (${JSON.stringify(st.reencrypt)})`);
    const total = st.reencrypt.total;
    assert.ok(st.reencrypt.done < total, `killed before the end (${st.reencrypt.done}/${total})`);
    const mixed = [...(await keyIdsOnDisk(dir, devices)).values()];
    assert.ok(mixed.includes(1) && mixed.includes(2), 'blocks under both keys on disk');
    r = await dw(['key', 'status', '--data', dir]);
    assert.match(r.stdout, /reencrypt: moving every block from key 1 to key 2: \d+% \(\d+\/\d+ blocks\)/);

    // Restart: the walk resumes by itself and finishes.
    srv = await serve(dir, ['--passphrase-file', passFile]);
    try {
      st = await until('the resumed walk to finish', 180_000, async () => {
        const s = await keyStatus(dir);
        return s.reencrypt ? undefined : s;
      });
      assert.deepEqual({ keys: st.keys, current: st.current }, { keys: [1, 2], current: 2 }, 'key 1 stays: the first key');
      assert.match(srv.stdout() + srv.stderr(), /resuming the reencrypt recorded in the pool/);
      readsBack(srv, pw, files, root);
      // A second one, followed to its end: key 2 leaves the record; key 1 (the first) stays.
      r = await dw(['key', 'reencrypt', '--wait', '--data', dir, '--passphrase-file', passFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /every block is now under data key 3 \(\d+ blocks rewritten by this run\); data keys kept: 1, 3/);
      st = await keyStatus(dir);
      assert.deepEqual({ keys: st.keys, current: st.current, reencrypt: st.reencrypt }, { keys: [1, 3], current: 3, reencrypt: undefined });
      readsBack(srv, pw, files, root);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    const ids = await keyIdsOnDisk(dir, devices);
    assert.ok(ids.size >= 80, `${ids.size} blocks`);
    assert.deepEqual([...new Set(ids.values())], [3], 'every block on disk is under key 3');
    r = await dw(['scrub', '--no-repair', '--json', '--data', dir, '--passphrase-file', passFile]);
    assert.equal(r.code, 0, r.stderr);
    const sc = JSON.parse(r.stdout);
    assert.deepEqual({ bad: sc.badShards, lost: sc.unrecoverable }, { bad: 0, lost: 0 });
    // Opened from the record alone (keys 1 and 3), everything reads again; reclaim frees the old copies.
    srv = await serve(dir, ['--passphrase-file', passFile]);
    try {
      r = await dw(['reclaim', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(r.stdout).freedBytes > 100 << 20, `reclaim frees the old copies (${r.stdout})`);
      readsBack(srv, pw, files, root);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
