/** generateHostKey: every key it returns is one ssh2 (and so the SFTP server) accepts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateHostKey } from './index.js';

test('3,000 generated host keys all parse as Ed25519 keys with a 32-byte public key (ssh2 alone fails ~0.5%)', () => {
  for (let i = 0; i < 3000; i++) {
    const key = ssh2.utils.parseKey(generateHostKey());
    assert.ok(!(key instanceof Error), `key ${i}: ${key instanceof Error ? key.message : ''}`);
    const k = Array.isArray(key) ? key[0]! : key;
    assert.equal(k.type, 'ssh-ed25519');
    // The SSH wire form of the public key: string "ssh-ed25519" (4 + 11 bytes), then string key (4 + 32).
    assert.equal(k.getPublicSSH().length, 4 + 11 + 4 + 32);
  }
});
