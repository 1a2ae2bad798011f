/**
 * Where the CLI takes a pool's secret from (unlock.ts), its wire form on the admin socket, and
 * the admin methods key.status / key.rotate and pool.create with encryption. The terminal prompt
 * is exercised by the e2e test under `script` (a pty); here stdin is not a terminal.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBlockStore } from '../raid/memory.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { runAdmin, type AdminEnv } from './admin.js';
import { dataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import { fromWire, newSecret, readPassphraseFile, toWire, unlockSecret } from './unlock.js';
import { UserStore } from './users.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'dw-unlock-'));
const cli = (re: RegExp) => (e: unknown) => e instanceof CliError && re.test(e.message);
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
const NEW = { envVar: 'DW_PASSPHRASE', keyFlag: '--key-file', passFlag: '--passphrase-file' };

describe('unlock sources', () => {
  test('passphrase pools: --passphrase-file first (one final newline dropped), then DW_PASSPHRASE; otherwise a message saying what to give', async () => {
    const d = tmp();
    try {
      const f = join(d, 'p');
      writeFileSync(f, 'with trailing\r\n');
      assert.equal(readPassphraseFile(f), 'with trailing');
      writeFileSync(f, ' spaces kept \n\n');
      assert.equal(readPassphraseFile(f), ' spaces kept \n');
      writeFileSync(f, '\n');
      assert.throws(() => readPassphraseFile(f), usage(/is empty/));
      assert.throws(() => readPassphraseFile(join(d, 'nope')), usage(/cannot read the passphrase file .*: ENOENT/));
      writeFileSync(f, 'from file');
      const req = { poolId: 'p1', source: 'passphrase' as const };
      assert.deepEqual(await unlockSecret({ passphraseFile: f }, req, { DW_PASSPHRASE: 'from env' }), { kind: 'passphrase', passphrase: 'from file' });
      assert.deepEqual(await unlockSecret({}, req, { DW_PASSPHRASE: 'from env' }), { kind: 'passphrase', passphrase: 'from env' });
      await assert.rejects(unlockSecret({}, req, {}), cli(/^pool p1 is encrypted: give its passphrase with --passphrase-file FILE or \$DW_PASSPHRASE/));
      await assert.rejects(unlockSecret({ keyFile: f }, req, {}), cli(/locked with a passphrase, not a key file/));
      await assert.rejects(unlockSecret({}, req, { DW_KEY_FILE: f }), cli(/locked with a passphrase, not a key file.*\$DW_KEY_FILE is set/));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('key-file pools: --key-file, then DW_KEY_FILE; raw or hex; wrong shapes are usage errors', async () => {
    const d = tmp();
    try {
      const key = randomBytes(32);
      const raw = join(d, 'raw'), hex = join(d, 'hex');
      writeFileSync(raw, key);
      writeFileSync(hex, `${key.toString('hex')}\n`);
      const req = { poolId: 'p2', source: 'keyfile' as const };
      for (const s of [await unlockSecret({ keyFile: raw }, req, {}), await unlockSecret({}, req, { DW_KEY_FILE: hex })]) {
        assert.equal(s.kind, 'keyfile');
        assert.ok(s.kind === 'keyfile' && s.key.equals(key));
      }
      writeFileSync(raw, 'not a key');
      await assert.rejects(unlockSecret({ keyFile: raw }, req, {}), usage(/must hold 32 raw bytes or 64 hex digits \(it has 9 bytes\)/));
      await assert.rejects(unlockSecret({}, req, {}), cli(/^pool p2 is encrypted: give its key file with --key-file FILE or \$DW_KEY_FILE$/));
      await assert.rejects(unlockSecret({ passphraseFile: raw }, req, {}), cli(/locked with a key file, not a passphrase/));
      await assert.rejects(unlockSecret({}, req, { DW_PASSPHRASE: 'x' }), cli(/locked with a key file, not a passphrase/));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('new secrets: a key file is made (0600, 64 hex digits) when absent and reused when present; passphrases of 8+ characters', async () => {
    const d = tmp();
    try {
      const k = join(d, 'new.key');
      const made = await newSecret('keyfile', { ...NEW, keyFile: k }, {});
      assert.equal(made.created, k);
      assert.equal(statSync(k).mode & 0o777, 0o600);
      assert.match(readFileSync(k, 'utf8'), /^[0-9a-f]{64}\n$/);
      const again = await newSecret('keyfile', { ...NEW, keyFile: k }, {});
      assert.equal(again.created, undefined);
      assert.deepEqual(again.secret, made.secret);
      await assert.rejects(newSecret('keyfile', NEW, {}), usage(/name the key file with --key-file FILE/));
      await assert.rejects(newSecret('keyfile', { ...NEW, keyFile: join(d, 'no', 'dir', 'k') }, {}), usage(/cannot create the key file .*: ENOENT/));
      assert.deepEqual((await newSecret('passphrase', NEW, { DW_PASSPHRASE: 'long enough' })).secret, { kind: 'passphrase', passphrase: 'long enough' });
      await assert.rejects(newSecret('passphrase', NEW, { DW_PASSPHRASE: 'short' }), usage(/shorter than 8 characters/));
      await assert.rejects(newSecret('passphrase', { ...NEW, envVar: 'DW_NEW_PASSPHRASE', passFlag: '--new-passphrase-file' }, { DW_PASSPHRASE: 'the old one!' }),
        usage(/give the new passphrase with --new-passphrase-file FILE or \$DW_NEW_PASSPHRASE/));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('wire form: round trips; anything else is a usage error', () => {
    const key = randomBytes(32);
    assert.deepEqual(fromWire(toWire({ kind: 'keyfile', key }), 'x'), { kind: 'keyfile', key });
    assert.deepEqual(fromWire(toWire({ kind: 'passphrase', passphrase: 'pp' }), 'x'), { kind: 'passphrase', passphrase: 'pp' });
    for (const bad of [undefined, null, 'pp', {}, { kind: 'passphrase' }, { kind: 'passphrase', passphrase: '' }, { kind: 'keyfile', keyHex: 'zz' }, { kind: 'keyfile', keyHex: key.toString('hex').toUpperCase() }, { kind: 'other' }]) {
      assert.throws(() => fromWire(bad, 'new passphrase'), usage(/missing or malformed new passphrase/), JSON.stringify(bad));
    }
  });
});

describe('admin methods: pool.create with encryption, key.status, key.rotate', () => {
  test('create encrypted, status, rotate (wrong old refused), then the new passphrase is the one', async () => {
    const d = tmp();
    const kv = new MemoryKv();
    const e: AdminEnv = {
      dir: dataDir(d), kv, users: new UserStore(kv), serving: false,
      pool: async () => new MemoryBlockStore(), vfs: async () => { throw new Error('unused'); }, snapshots: async () => { throw new Error('unused'); },
    };
    try {
      await assert.rejects(runAdmin(e, 'key.status', {}), cli(/no pool yet/));
      const devices = [join(d, 'a'), join(d, 'b')];
      await assert.rejects(runAdmin(e, 'pool.create', { layout: 'mirror:2', devices, encryption: { kind: 'passphrase' } }), usage(/malformed passphrase or key file for --encryption/));
      const r = await runAdmin(e, 'pool.create', { layout: 'mirror:2', devices, encryption: { kind: 'passphrase', passphrase: 'first passphrase' } }) as { encryption: string };
      assert.equal(r.encryption, 'aes-256-gcm (passphrase)');
      await assert.rejects(runAdmin(e, 'pool.create', { layout: 'mirror:2', devices: [join(d, 'c'), join(d, 'e')] }), (err: unknown) => err instanceof CliError && err.code === 'EEXIST', 'an encrypted pool need not be unlocked to be there');
      const st = await runAdmin(e, 'key.status', {}) as { encrypted: boolean; source: string; description: string };
      assert.equal(st.encrypted, true);
      assert.equal(st.source, 'passphrase');
      assert.match(st.description, /scrypt N=2\^17 r=8 p=1/);
      const old = { kind: 'passphrase', passphrase: 'first passphrase' };
      const next = { kind: 'passphrase', passphrase: 'second passphrase' };
      await assert.rejects(runAdmin(e, 'key.rotate', { old: { kind: 'passphrase', passphrase: 'not it' }, new: next }), (err: unknown) => err instanceof CliError && err.code === 'EACCES' && /^wrong passphrase for pool/.test(err.message));
      await assert.rejects(runAdmin(e, 'key.rotate', { old }), usage(/malformed new passphrase or key file/));
      await runAdmin(e, 'key.rotate', { old, new: next });
      await assert.rejects(runAdmin(e, 'key.rotate', { old, new: next }), (err: unknown) => err instanceof CliError && err.code === 'EACCES');
      await runAdmin(e, 'key.rotate', { old: next, new: old });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
