// End-to-end tests of encryption at rest (issue 5) through the real `dw` CLI: an encrypted pool
// made by `dw pool create --encryption`, served and written over WebDAV with curl; no known
// content in any device file; a flipped ciphertext byte read right and repaired by scrub; a
// wrong passphrase refused with nothing written; `dw key rotate` on a running server and offline.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRow, type BlockRow } from '../../raid/blocktable.js';
import { keys, prefixEnd } from '../../vfs/meta/keys.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';
import { cleanupAll, curl, DW, dw, serve, type Server, tempDir } from './gateway-harness.js';

after(cleanupAll);

/** Known contents: each names a secret that must not appear on the devices. */
const SECRETS = ['PAYROLL-ALICE-93512-EUR', 'launch code 7-7-ALPHA-ZULU', 'diary: the password is swordfish'];
/** Known names (a folder and a file in it): they must not appear in the metadata or on the devices. */
const NAME_SECRETS = ['Project-Nightingale-K3', 'Quarterly-Bonus-Plan-Q7Z9'];

function contents(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('small.txt', Buffer.from(`${SECRETS[0]}\n`));
  files.set('letter.txt', Buffer.from(`Dear Bob,\n${SECRETS[1]}\n`.repeat(2000)));
  // 3 MiB with the secret spread through it: several 1 MiB records, sealed in codec workers.
  const big = Buffer.alloc(3 << 20);
  for (let at = 0; at + 64 < big.length; at += 4096) big.write(SECRETS[2]!, at);
  files.set('big.bin', big);
  files.set(`${NAME_SECRETS[0]}/${NAME_SECRETS[1]}.txt`, Buffer.from('a file with a telling name\n'));
  return files;
}

/** Every file under a folder (recursively), path → bytes. */
function readTree(dir: string, out = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) readTree(p, out);
    else if (e.isFile()) out.set(p, readFileSync(p));
  }
  return out;
}

/** Every KV row of DIR/meta (the server must be stopped), hex key → hex value. */
async function dumpKv(dir: string): Promise<Map<string, string>> {
  const kv = await openRocksKv(join(dir, 'meta'));
  try {
    const out = new Map<string, string>();
    for await (const [k, v] of kv.scan(Buffer.alloc(0), Buffer.alloc(64, 0xff))) out.set(k.toString('hex'), v.toString('hex'));
    return out;
  } finally {
    await kv.close();
  }
}

async function put(srv: Server, user: string, password: string, files: Map<string, Buffer>, tmp: string): Promise<void> {
  for (const name of files.keys()) {
    const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
    if (dir) assert.match(curl(['-u', `${user}:${password}`, '-X', 'MKCOL', `${srv.url}${dir}`]).status, /^(201|405)$/, `MKCOL ${dir}`);
  }
  for (const [name, body] of files) {
    const local = join(tmp, `up-${name.replaceAll('/', '_')}`);
    await writeFile(local, body);
    const c = curl(['-u', `${user}:${password}`, '-T', local, `${srv.url}${name}`]);
    assert.match(c.status, /^20[14]$/, `PUT ${name}: ${c.status} ${c.body}`);
  }
}

async function readsBack(srv: Server, user: string, password: string, files: Map<string, Buffer>, tmp: string): Promise<void> {
  for (const [name, body] of files) {
    const local = join(tmp, `down-${name.replaceAll('/', '_')}`);
    const c = spawnSync('curl', ['-sS', '-u', `${user}:${password}`, '-o', local, '-w', '%{http_code}', `${srv.url}${name}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(c.stdout, '200', `GET ${name}: ${c.stderr}`);
    assert.ok(readFileSync(local).equals(body), `${name} reads back`);
  }
}

/** Which files under the folders contain which secret (contents and names). */
function leaks(...dirs: string[]): string[] {
  const found: string[] = [];
  for (const d of dirs) for (const [p, bytes] of readTree(d)) for (const s of [...SECRETS, ...NAME_SECRETS]) if (bytes.includes(s)) found.push(`${p}: ${s}`);
  return found;
}

/**
 * Flips one payload byte of data shard 0 of the largest live block (found through the block
 * table; the server must be stopped). Returns the block id.
 */
async function flipDataShardByte(dir: string, devices: string[]): Promise<number> {
  const kv = await openRocksKv(join(dir, 'meta'));
  let best: { id: number; row: BlockRow } | undefined;
  try {
    for await (const [k, v] of kv.scan(keys.blockPrefix(), prefixEnd(keys.blockPrefix()))) {
      const id = Number(k.readBigUInt64BE(1));
      const row = decodeRow(v, id);
      if (!best || row.stored > best.row.stored) best = { id, row };
    }
  } finally {
    await kv.close();
  }
  assert.ok(best, 'a live block');
  assert.equal(best.row.flags & 2, 2, 'the block is encrypted');
  const s = best.row.shards[0]!;
  const file = join(devices[s.device]!, `seg-${s.segment.toString(16).padStart(8, '0')}.dws`);
  const fd = openSync(file, 'r+');
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, s.offset + 40 + 200);
  one[0] = one[0]! ^ 0x01;
  writeSync(fd, one, 0, 1, s.offset + 40 + 200);
  closeSync(fd);
  return best.id;
}

async function encryptedFolder(kind: 'passphrase' | 'keyfile'): Promise<{ root: string; dir: string; devices: string; pass: string; key: string }> {
  const root = await tempDir();
  const dir = join(root, 'data');
  const devices = join(root, 'disks');
  await mkdir(devices);
  const pass = join(root, 'pass.txt');
  await writeFile(pass, 'correct horse battery staple\n', { mode: 0o600 });
  const key = join(root, 'pool.key');
  const r = await dw(['pool', 'create', '--data', dir, '--layout', 'rs:2+1', '--encryption', kind,
    ...(kind === 'passphrase' ? ['--passphrase-file', pass] : ['--key-file', key]), ...[0, 1, 2].map((i) => join(devices, `d${i}`))]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`created pool rs:2\\+1 on 3 devices, compression off, dedup off, encryption aes-256-gcm \\(${kind === 'passphrase' ? 'passphrase' : 'key file'}\\)`));
  return { root, dir, devices, pass, key };
}


/**
 * Runs `dw ARGS` on a pseudo-terminal (util-linux `script`) and answers its prompts in order:
 * each time the output matches the next [prompt, answer], the answer and Enter are typed.
 */
function dwOnTty(args: string[], answers: [RegExp, string][]): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, DW, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const c = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DW_DATA: '', DW_PASSPHRASE: '', DW_KEY_FILE: '' } });
    let out = '', seen = 0;
    const timer = setTimeout(() => { c.kill('SIGKILL'); reject(new Error(`no exit; output so far:\n${out}`)); }, 60_000);
    c.stdout.on('data', (d) => {
      out += d;
      const next = answers[0];
      if (next && next[0].test(out.slice(seen))) {
        seen = out.length;
        answers.shift();
        c.stdin.write(`${next[1]}\r`);
      }
    });
    c.on('error', reject);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('encryption at rest (dw CLI)', () => {
  test('known contents and names written over WebDAV are in no device or metadata file (a plain pool shows them); they read back; a flipped ciphertext byte reads right and scrub repairs', async () => {
    const f = await encryptedFolder('passphrase');
    const files = contents();
    let srv = await serve(f.dir, ['--passphrase-file', f.pass]);
    assert.match(srv.stderr(), /pool rs:2\+1 on 3 devices, encrypted/);
    const pw = srv.password!;
    try {
      await put(srv, 'admin', pw, files, f.root);
      await readsBack(srv, 'admin', pw, files, f.root);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    const segs = [...readTree(f.devices).keys()].filter((p) => p.endsWith('.dws'));
    assert.ok(segs.length >= 3, 'segment files were written');
    assert.deepEqual(leaks(f.devices, f.dir), [], 'no known content or name in any device file or metadata file');

    // The control: the same files on a plain pool are found by the same search.
    const plainDir = join(await tempDir(), 'plain');
    const p = await serve(plainDir);
    try {
      await put(p, 'admin', p.password!, files, f.root);
    } finally {
      await p.stop();
    }
    const plainLeaks = leaks(join(plainDir, 'devices'), join(plainDir, 'meta'));
    // (Not the 24-byte small.txt: rs:4+2 splits it into 8-byte shards, so no search finds it whole.)
    for (const x of [...SECRETS.slice(1), ...NAME_SECRETS]) assert.ok(plainLeaks.some((l) => l.endsWith(`: ${x}`)), `the search finds "${x}" on a plain pool`);

    // A flipped byte of a ciphertext data shard: scrub (offline, unlocked from the environment)
    // sees it; the server reads the right data anyway (repaired from parity) and scrub repairs.
    await flipDataShardByte(f.dir, [0, 1, 2].map((i) => join(f.devices, `d${i}`)));
    let r = await dw(['scrub', '--no-repair', '--json', '--data', f.dir], { env: { DW_PASSPHRASE: 'correct horse battery staple' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).badShards, 1);
    srv = await serve(f.dir, ['--passphrase-file', f.pass]);
    try {
      await readsBack(srv, 'admin', pw, files, f.root);
      r = await dw(['scrub', '--json', '--data', f.dir]);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.unrecoverable, 0);
      r = await dw(['scrub', '--json', '--no-repair', '--data', f.dir]);
      assert.equal(JSON.parse(r.stdout).badShards, 0, 'repaired (by the read or by scrub)');
    } finally {
      await srv.stop();
    }
  });

  test('a wrong passphrase at start: one clear line, exit 1, and nothing written (device files and every KV row unchanged)', async () => {
    const f = await encryptedFolder('passphrase');
    const srv = await serve(f.dir, ['--passphrase-file', f.pass]);
    await put(srv, 'admin', srv.password!, new Map([['a.txt', Buffer.from(`${SECRETS[0]}\n`.repeat(100))]]), f.root);
    await srv.stop();
    const poolId = (await dw(['key', 'status', '--json', '--data', f.dir])).stdout;
    const id = JSON.parse(poolId).poolId as string;
    const devicesBefore = readTree(f.devices);
    const kvBefore = await dumpKv(f.dir);
    const wrong = join(f.root, 'wrong.txt');
    await writeFile(wrong, 'incorrect horse battery staple\n');
    const refusal = `dw: wrong passphrase for pool ${id}: the data key did not unwrap`;
    const runs: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['serve', '--data', f.dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0', '--passphrase-file', wrong], {}, new RegExp(`^${refusal}$`)],
      [['serve', '--data', f.dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0'], { DW_PASSPHRASE: 'not it at all' }, new RegExp(`^${refusal}$`)],
      [['serve', '--data', f.dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0'], { DW_PASSPHRASE: '' }, /is encrypted: give its passphrase with --passphrase-file FILE or \$DW_PASSPHRASE/],
      [['scrub', '--data', f.dir, '--passphrase-file', wrong], {}, new RegExp(`^${refusal}$`)],
      [['snapshot', 'create', 'x', '--data', f.dir], { DW_PASSPHRASE: 'not it at all' }, new RegExp(`^${refusal}$`)],
      [['pool', 'status', '--data', f.dir, '--key-file', wrong], {}, /is locked with a passphrase, not a key file/],
    ];
    for (const [args, env, re] of runs) {
      const r = await dw(args, { env });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[lines.length - 1]!, re, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
    const devicesAfter = readTree(f.devices);
    assert.deepEqual([...devicesAfter.keys()].sort(), [...devicesBefore.keys()].sort(), 'no new segment file');
    for (const [p, b] of devicesBefore) assert.ok(devicesAfter.get(p)!.equals(b), `${p} unchanged`);
    assert.deepEqual(await dumpKv(f.dir), kvBefore, 'no KV row changed (pool row, counters, leases)');
    // The right one still works.
    const ok = await dw(['pool', 'status', '--json', '--data', f.dir, '--passphrase-file', f.pass]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).encryption, 'aes-256-gcm');
  });

  test('dw key rotate on a running server, then offline to a key file: the old secret is refused, every file still reads, no data rewritten', async () => {
    const f = await encryptedFolder('passphrase');
    const files = contents();
    let srv = await serve(f.dir, ['--passphrase-file', f.pass]);
    const pw = srv.password!;
    const newPass = join(f.root, 'new-pass.txt');
    await writeFile(newPass, 'a brand new passphrase\n');
    try {
      await put(srv, 'admin', pw, files, f.root);
      // A wrong current passphrase is refused by the server, and nothing changes.
      let r = await dw(['key', 'rotate', '--data', f.dir, '--new-passphrase-file', newPass], { env: { DW_PASSPHRASE: 'not the passphrase' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /wrong passphrase for pool \w+: the data key did not unwrap/);
      r = await dw(['key', 'rotate', '--data', f.dir, '--passphrase-file', f.pass, '--new-passphrase-file', newPass]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /the data key is now wrapped under the new passphrase .*; the old passphrase no longer opens it; no data was rewritten/);
      // The server goes on with its keys in memory: reads and writes.
      await readsBack(srv, 'admin', pw, files, f.root);
      await put(srv, 'admin', pw, new Map([['after.txt', Buffer.from('written after the rotation\n')]]), f.root);
      files.set('after.txt', Buffer.from('written after the rotation\n'));
    } finally {
      await srv.stop();
    }
    const segsBefore = readTree(f.devices);
    let r = await dw(['serve', '--data', f.dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0', '--passphrase-file', f.pass]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong passphrase for pool \w+: the data key did not unwrap/);
    srv = await serve(f.dir, ['--passphrase-file', newPass]);
    try {
      await readsBack(srv, 'admin', pw, files, f.root);
    } finally {
      await srv.stop();
    }
    // Offline, to a key file (created by the command).
    const key = join(f.root, 'new.key');
    r = await dw(['key', 'rotate', '--to', 'keyfile', '--new-key-file', key, '--data', f.dir], { env: { DW_PASSPHRASE: 'a brand new passphrase' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrapped under the new key file .*; the old passphrase no longer opens it/);
    assert.match(r.stdout, /wrote a new random key to /);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    r = await dw(['key', 'status', '--data', f.dir]);
    assert.match(r.stdout, /encrypted, aes-256-gcm, key file \(hkdf-sha256\), 1 data key/);
    r = await dw(['pool', 'status', '--data', f.dir], { env: { DW_PASSPHRASE: 'a brand new passphrase' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /locked with a key file/);
    srv = await serve(f.dir, ['--key-file', key]);
    try {
      await readsBack(srv, 'admin', pw, files, f.root);
    } finally {
      await srv.stop();
    }
    // Rotation rewrote no record: the segment files hold what they held, byte for byte, at the same places.
    for (const [p, b] of segsBefore) if (p.endsWith('.dws')) assert.ok(readFileSync(p).subarray(0, b.length).equals(b), `${p} unchanged`);
  });

  test('a key-file pool unlocks from $DW_KEY_FILE; bad key files and --encryption values are usage errors', async () => {
    const f = await encryptedFolder('keyfile');
    assert.equal(statSync(f.key).mode & 0o777, 0o600);
    const srv = await serve(f.dir, ['--key-file', f.key]);
    const pw = srv.password!;
    await put(srv, 'admin', pw, new Map([['k.txt', Buffer.from(SECRETS[1]!)]]), f.root);
    await srv.stop();
    assert.deepEqual(leaks(f.devices), []);
    let r = await dw(['pool', 'status', '--json', '--data', f.dir], { env: { DW_KEY_FILE: f.key } });
    assert.equal(r.code, 0, r.stderr);
    const short = join(f.root, 'short.key');
    await writeFile(short, randomBytes(16));
    r = await dw(['pool', 'status', '--data', f.dir, '--key-file', short]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must hold 32 raw bytes or 64 hex digits \(it has 16 bytes\)/);
    r = await dw(['pool', 'status', '--data', f.dir, '--key-file', join(f.root, 'absent.key')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read the key file .*absent\.key: ENOENT/);
    const other = join(f.root, 'other.key');
    await writeFile(other, randomBytes(32));
    r = await dw(['pool', 'status', '--data', f.dir, '--key-file', other]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^dw: wrong key file for pool \w+: the data key did not unwrap$/m);
    const g = await tempDir();
    r = await dw(['pool', 'create', '--data', join(g, 'data'), '--layout', 'mirror:2', '--encryption', 'rot13', join(g, 'a'), join(g, 'b')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad --encryption "rot13": use passphrase, keyfile or off/);
    r = await dw(['pool', 'create', '--data', join(g, 'data'), '--layout', 'mirror:2', '--encryption', 'passphrase', join(g, 'a'), join(g, 'b')], { env: { DW_PASSPHRASE: 'short' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /shorter than 8 characters/);
    r = await dw(['key', 'rotate', '--data', f.dir, '--key-file', f.key]);
    assert.equal(r.code, 2, 'no new secret given');
    assert.match(r.stderr, /name the key file with --new-key-file FILE/);
  });
  test('on a terminal: the passphrase is asked (twice at create, not echoed); a wrong one is refused', { skip: spawnSync('script', ['--version']).status !== 0 && 'util-linux script is not installed' }, async () => {
    const root = await tempDir();
    const dir = join(root, 'data');
    const devs = [0, 1, 2].map((i) => join(root, `d${i}`));
    const pass = 'typed at the prompt';
    let r = await dwOnTty(['pool', 'create', '--data', dir, '--layout', 'raid5:3', '--encryption', 'passphrase', ...devs], [[/New passphrase: /, pass], [/Repeat it: /, pass]]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /encryption aes-256-gcm \(passphrase\)/);
    assert.ok(!r.out.includes(pass), 'not echoed');
    r = await dwOnTty(['pool', 'create', '--data', join(root, 'other'), '--layout', 'mirror:2', '--encryption', 'passphrase', join(root, 'x'), join(root, 'y')], [[/New passphrase: /, pass], [/Repeat it: /, 'something else']]);
    assert.equal(r.code, 2);
    assert.match(r.out, /the two passphrases differ/);
    r = await dwOnTty(['pool', 'status', '--data', dir], [[/Passphrase for pool \w+: /, pass]]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /encrypt: {2}aes-256-gcm/);
    r = await dwOnTty(['pool', 'status', '--data', dir], [[/Passphrase for pool \w+: /, 'not the one']]);
    assert.equal(r.code, 1);
    assert.match(r.out, /dw: wrong passphrase for pool \w+: the data key did not unwrap/);
  });
});
