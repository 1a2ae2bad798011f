import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';

const sshUtils = ssh2.utils;
import { MemoryKv } from '../vfs/meta/memory.js';
import { keys } from '../vfs/meta/keys.js';
import { CliError, UsageError } from './errors.js';
import { ntHash } from '../protocols/smb/index.js';
import { formatUsers } from './format.js';
import { UserStore, hashPassword, parsePublicKeys, validateUserName, verifyPassword } from './users.js';

/**
 * An ed25519 key pair whose public key parses. ssh2's generateKeyPairSync drops a leading zero
 * byte of the public key (about one key in 256 comes out 31 bytes long, "AAAAH..."), and such a
 * key is rightly refused as malformed: the tests would fail at random.
 */
function keyPair(): { public: string; private: string } {
  for (;;) {
    const k = sshUtils.generateKeyPairSync('ed25519');
    if (!(sshUtils.parseKey(k.public) instanceof Error)) return k;
  }
}

function blobOf(pub: string): Buffer {
  const k = sshUtils.parseKey(pub);
  if (k instanceof Error || Array.isArray(k)) throw new Error('bad key');
  return k.getPublicSSH();
}

describe('users', () => {
  test('add, list, remove; uids from 1000 up', async () => {
    const kv = new MemoryKv();
    const users = new UserStore(kv);
    assert.equal(await users.any(), false);
    const a = await users.add('alice', { password: 'correct horse' });
    const b = await users.add('bob', { password: 'battery staple' });
    assert.equal(a.uid, 1000);
    assert.equal(b.uid, 1001);
    assert.equal(b.gid, 1001);
    assert.deepEqual((await users.list()).map((u) => u.name), ['alice', 'bob']);
    assert.equal(await users.any(), true);
    // stored under the 'U' key as JSON, with a salted scrypt hash and never the password
    const raw = (await kv.get(keys.user('alice')))!.toString('utf8');
    assert.ok(!raw.includes('correct horse'));
    const rec = JSON.parse(raw);
    assert.equal(rec.password.algo, 'scrypt');
    assert.ok(rec.password.N >= 16384);
    await assert.rejects(users.add('alice', { password: 'x' }), (e: unknown) => e instanceof CliError && e.code === 'EEXIST');
    await users.remove('alice');
    assert.deepEqual((await users.list()).map((u) => u.name), ['bob']);
    await assert.rejects(users.remove('alice'), (e: unknown) => e instanceof CliError && /no user named alice/.test(e.message));
    // a new user after removals still gets an unused uid
    assert.equal((await users.add('carol', { password: 'pw' })).uid, 1002);
  });

  test('password check: right, wrong, unknown user, changed password', async () => {
    const users = new UserStore(new MemoryKv());
    await users.add('alice', { password: 's3cret!' });
    const p = await users.checkPassword('alice', 's3cret!');
    assert.deepEqual(p, { name: 'alice', uid: 1000, gid: 1000, groups: [1000] });
    // cached path answers the same
    assert.deepEqual(await users.checkPassword('alice', 's3cret!'), p);
    assert.equal(await users.checkPassword('alice', 's3cret'), null);
    assert.equal(await users.checkPassword('alice', ''), null);
    assert.equal(await users.checkPassword('nobody', 's3cret!'), null);
    assert.equal(await users.checkPassword('../etc', 's3cret!'), null);
    await users.setPassword('alice', 'new one');
    assert.equal(await users.checkPassword('alice', 's3cret!'), null, 'old password must stop working (cache invalidated)');
    assert.ok(await users.checkPassword('alice', 'new one'));
    await users.remove('alice');
    assert.equal(await users.checkPassword('alice', 'new one'), null, 'removed user cannot log in');
  });

  test('SMB: the NT hash is stored with every password, follows password changes, and is missing for old records', async () => {
    const kv = new MemoryKv();
    const users = new UserStore(kv);
    await users.add('alice', { password: 'Password01!' });
    const a = await users.smbAccount('alice');
    assert.deepEqual(a?.principal, { name: 'alice', uid: 1000, gid: 1000, groups: [1000] });
    // MS-NLMP 3.3.1 NTOWFv1 of "Password01!" (Microsoft's SMB 3 signing blog example).
    assert.equal(a?.ntHash?.toString('hex'), ntHash('Password01!').toString('hex'));
    assert.deepEqual((await users.smbAccount('ALICE'))?.principal.name, 'alice', 'user names are tried in lower case too');
    assert.equal(await users.smbAccount('nobody'), undefined);
    assert.equal((await users.list())[0]!.smb, true);
    await users.setPassword('alice', 'other');
    assert.deepEqual((await users.smbAccount('alice'))?.ntHash, ntHash('other'));
    // A record written before SMB support: no ntHash field.
    const rec = JSON.parse((await kv.get(keys.user('alice')))!.toString('utf8'));
    delete rec.ntHash;
    await kv.txn(async (tx) => { tx.set(keys.user('alice'), Buffer.from(JSON.stringify(rec))); });
    assert.equal((await users.smbAccount('alice'))?.ntHash, undefined);
    assert.equal((await users.list())[0]!.smb, false);
    assert.match(formatUsers(await users.list()).join('\n'), /password \(not for SMB until set again\)/);
    assert.ok(await users.checkPassword('alice', 'other'), 'other protocols are unaffected');
    await users.setPassword('alice', 'again');
    assert.deepEqual((await users.smbAccount('alice'))?.ntHash, ntHash('again'));
    // Keys-only users have no NT hash.
    await users.add('dave', { sshKeys: keyPair().public });
    assert.equal((await users.smbAccount('dave'))?.ntHash, undefined);
  });

  test('public key check compares key blobs', async () => {
    const users = new UserStore(new MemoryKv());
    const k1 = keyPair();
    const k2 = keyPair();
    await users.add('dave', { sshKeys: `# my keys\n${k1.public} dave@laptop\n` });
    const info = (await users.list())[0]!;
    assert.equal(info.hasPassword, false);
    assert.equal(info.sshKeys.length, 1);
    assert.match(info.sshKeys[0]!, /^ssh-ed25519 AAAA\S+ dave@laptop$/);
    assert.deepEqual(await users.checkPublicKey('dave', 'ssh-ed25519', blobOf(k1.public)), { name: 'dave', uid: 1000, gid: 1000, groups: [1000] });
    assert.equal(await users.checkPublicKey('dave', 'ssh-ed25519', blobOf(k2.public)), null);
    assert.equal(await users.checkPublicKey('erin', 'ssh-ed25519', blobOf(k1.public)), null);
    // no password set: password login refused
    assert.equal(await users.checkPassword('dave', ''), null);
    await users.addKeys('dave', k2.public);
    await users.addKeys('dave', k2.public); // duplicate is skipped
    assert.equal((await users.list())[0]!.sshKeys.length, 2);
    assert.ok(await users.checkPublicKey('dave', 'ssh-ed25519', blobOf(k2.public)));
  });

  test('bad input gets clear messages', async () => {
    const users = new UserStore(new MemoryKv());
    for (const bad of ['', '1abc', 'a b', 'a/b', '..', 'x'.repeat(33), 'é']) {
      assert.throws(() => validateUserName(bad), (e: unknown) => e instanceof UsageError && /invalid user name/.test(e.message), bad);
    }
    await assert.rejects(users.add('ok', {}), (e: unknown) => e instanceof UsageError && /--password or an --ssh-key/.test(e.message));
    await assert.rejects(users.add('ok', { password: '' }), /must not be empty/);
    await assert.rejects(users.add('ok', { sshKeys: 'not a key' }), /not an OpenSSH public key/);
    const priv = keyPair().private;
    assert.throws(() => parsePublicKeys(priv), /private key/);
    assert.throws(() => parsePublicKeys('\n# only a comment\n'), /no public key/);
    assert.deepEqual(await users.list(), []);
  });

  test('hashes are salted and verify only the right password', async () => {
    const h1 = await hashPassword('pw');
    const h2 = await hashPassword('pw');
    assert.notEqual(h1.salt, h2.salt);
    assert.notEqual(h1.hash, h2.hash);
    assert.equal(await verifyPassword('pw', h1), true);
    assert.equal(await verifyPassword('pw ', h1), false);
  });
});

test('generated passwords never start with - or _ (they would read as command-line options)', async () => {
  const { randomPassword } = await import('./users.js');
  for (let i = 0; i < 2000; i++) {
    const p = randomPassword();
    assert.match(p, /^[A-Za-z0-9][A-Za-z0-9_-]{19}$/);
  }
});
