import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, parseListen } from './args.js';
import { loadConfig } from './config.js';
import { dataDir } from './datadir.js';
import { UsageError } from './errors.js';
import { createLogger, formatLine } from './log.js';
import { barText, createProgress, percent } from './progress.js';

describe('cli values', () => {
  test('parseListen: good forms', () => {
    assert.deepEqual(parseListen('webdav', '127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('webdav', '0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
    assert.deepEqual(parseListen('sftp', '[::1]:2222'), { host: '::1', port: 2222 });
    assert.deepEqual(parseListen('sftp', 'localhost:22'), { host: 'localhost', port: 22 });
    assert.deepEqual(parseListen('sftp', '2222'), { host: '127.0.0.1', port: 2222 });
    assert.deepEqual(parseListen('sftp', ':2222'), { host: '127.0.0.1', port: 2222 });
    assert.equal(parseListen('sftp', 'off'), null);
  });

  test('parseListen: bad forms name the flag and the fix', () => {
    for (const bad of ['', 'host:', '127.0.0.1:65536', '127.0.0.1:-1', '::1:80', 'a b:80', '[zz]:80', '127.0.0.1:80x']) {
      assert.throws(() => parseListen('webdav', bad), (e: unknown) => e instanceof UsageError && /--webdav wants HOST:PORT/.test(e.message), bad);
    }
  });

  test('formatBytes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.00 GiB');
  });

  test('data folder paths; long folders get a short socket path', () => {
    const d = dataDir('/srv/dw');
    assert.equal(d.meta, '/srv/dw/meta');
    assert.equal(d.socket, '/srv/dw/admin.sock');
    const long = dataDir(`/srv/${'x'.repeat(120)}`);
    assert.ok(Buffer.byteLength(long.socket) < 100);
    assert.equal(long.socket, dataDir(`/srv/${'x'.repeat(120)}`).socket, 'same folder, same socket');
  });

  test('config file: keys, relative TLS paths, errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-cfg-'));
    try {
      assert.deepEqual(loadConfig(undefined, join(dir, 'config.json')), {}, 'absent default file is fine');
      assert.throws(() => loadConfig(join(dir, 'nope.json'), ''), /cannot read the config file/);
      await writeFile(join(dir, 'c.json'), JSON.stringify({ webdav: '0.0.0.0:80', tlsCert: 'cert.pem', tlsKey: '/k.pem' }));
      assert.deepEqual(loadConfig(join(dir, 'c.json'), ''), { webdav: '0.0.0.0:80', tlsCert: join(dir, 'cert.pem'), tlsKey: '/k.pem' });
      await writeFile(join(dir, 'bad.json'), '{"webdvа": "x"}');
      assert.throws(() => loadConfig(join(dir, 'bad.json'), ''), /unknown key/);
      await writeFile(join(dir, 'bad2.json'), '{webdav');
      assert.throws(() => loadConfig(join(dir, 'bad2.json'), ''), /not valid JSON/);
      await writeFile(join(dir, 'bad3.json'), '{"sftp": 22}');
      assert.throws(() => loadConfig(join(dir, 'bad3.json'), ''), /must be a string/);
      // "nfs" as an object: listen, exports (checked, the field named), portmapPort.
      await writeFile(join(dir, 'nfs.json'), JSON.stringify({ nfs: { listen: '127.0.0.1:2049', portmapPort: 111, exports: [{ path: '/p', clients: ['10.0.0.0/8'], readOnly: true }], graceSeconds: 2.5, leaseSeconds: 30, peerPortmapPort: 1111, serverName: 'nas1' } }));
      const c = loadConfig(join(dir, 'nfs.json'), '');
      assert.equal(c.nfs, '127.0.0.1:2049');
      assert.equal(c.nfsPortmapPort, 111);
      assert.deepEqual([c.nfsGraceSeconds, c.nfsLeaseSeconds, c.nfsPeerPortmapPort, c.nfsServerName], [2.5, 30, 1111, 'nas1']);
      assert.deepEqual(c.nfsExports?.map((e) => [e.path, e.clients, e.readOnly, e.squash]), [['/p', ['10.0.0.0/8'], true, 'root']]);
      const nfsBad: [unknown, RegExp][] = [
        [{ nfs: { exports: [{ path: '/', clients: ['10.0.0.0/40'] }] } }, /nfs\.exports\[0\]\.clients\[0\]: "10\.0\.0\.0\/40" has a bad prefix length/],
        [{ nfs: { exports: [{ path: '/', anonUid: 'nobody' }] } }, /nfs\.exports\[0\]\.anonUid must be an integer/],
        [{ nfs: { exports: 'all' } }, /nfs\.exports must be a non-empty list/],
        [{ nfs: { listen: 2049 } }, /"nfs\.listen" must be a string/],
        [{ nfs: { portmapPort: 70000 } }, /"nfs\.portmapPort" must be a port number/],
        [{ nfs: { export: [] } }, /unknown key "nfs\.export"/],
        [{ nfs: { graceSeconds: -1 } }, /"nfs\.graceSeconds" must be a number of seconds/],
        [{ nfs: { leaseSeconds: 0.5 } }, /"nfs\.leaseSeconds" must be a whole number of seconds/],
        [{ nfs: { peerPortmapPort: 0 } }, /"nfs\.peerPortmapPort" must be a port number/],
        [{ nfs: { serverName: '' } }, /"nfs\.serverName" must be a host name/],
        [{ nfs: 5 }, /"nfs" must be a string or an object/],
      ];
      // "smb": a string, or an object with listen, shares (checked, the field named) and serverName.
      await writeFile(join(dir, 'smb.json'), JSON.stringify({ smb: { listen: '127.0.0.1:4450', serverName: 'NAS1', shares: [{ name: 'data', path: '/d/./x/' }, { name: 'Vault', path: '/v', readOnly: true, requireEncryption: true, remark: 'Team vault' }] } }));
      const sc = loadConfig(join(dir, 'smb.json'), '');
      assert.equal(sc.smb, '127.0.0.1:4450');
      assert.equal(sc.smbServerName, 'NAS1');
      assert.deepEqual(sc.smbShares, [
        { name: 'data', path: '/d/x', readOnly: false, requireEncryption: false },
        { name: 'Vault', path: '/v', readOnly: true, requireEncryption: true, remark: 'Team vault' },
      ]);
      await writeFile(join(dir, 'smb2.json'), JSON.stringify({ smb: '0.0.0.0:445' }));
      assert.deepEqual(loadConfig(join(dir, 'smb2.json'), ''), { smb: '0.0.0.0:445' });
      nfsBad.push(
        [{ smb: 445 }, /"smb" must be a string or an object \{ "listen", "shares", "serverName" \}/],
        [{ smb: { listen: 445 } }, /"smb\.listen" must be a string/],
        [{ smb: { share: [] } }, /unknown key "smb\.share" \(known: smb\.listen, smb\.shares, smb\.serverName\)/],
        [{ smb: { shares: [] } }, /smb\.shares must be a non-empty list of shares/],
        [{ smb: { shares: [{ name: 'a', path: 'rel' }] } }, /smb\.shares\[0\]\.path: "rel" must be an absolute path/],
        [{ smb: { shares: [{ name: 'a', path: '/x/../y' }] } }, /smb\.shares\[0\]\.path: "\/x\/\.\.\/y" must not contain "\.\."/],
        [{ smb: { shares: [{ name: 'a/b', path: '/' }] } }, /smb\.shares\[0\]\.name: "a\/b" must not contain/],
        [{ smb: { shares: [{ name: 'ipc$', path: '/' }] } }, /smb\.shares\[0\]\.name: "ipc\$" is reserved/],
        [{ smb: { shares: [{ name: 'Data', path: '/' }, { name: 'DATA', path: '/x' }] } }, /smb\.shares\[1\]\.name: "DATA" is also the name of smb\.shares\[0\]/],
        [{ smb: { shares: [{ name: 'a', path: '/', readOnly: 'yes' }] } }, /smb\.shares\[0\]\.readOnly must be true or false/],
        [{ smb: { shares: [{ name: 'a', path: '/', encrypt: true }] } }, /smb\.shares\[0\]: unknown key "encrypt"/],
        [{ smb: { shares: [{ path: '/' }] } }, /smb\.shares\[0\]\.name must be a share name/],
        [{ smb: { shares: [{ name: 'a', path: '/', remark: 5 }] } }, /smb\.shares\[0\]\.remark must be a text of at most 256 characters/],
        [{ smb: { shares: [{ name: 'a', path: '/', remark: 'x'.repeat(257) }] } }, /smb\.shares\[0\]\.remark must be/],
        [{ smb: { shares: [{ name: 'a', path: '/', remark: 'two\nlines' }] } }, /smb\.shares\[0\]\.remark must be/],
        [{ smb: { serverName: 'this-name-is-far-too-long' } }, /smb\.serverName must be a NetBIOS name/],
      );
      for (const [v, re] of nfsBad) {
        await writeFile(join(dir, 'nfsbad.json'), JSON.stringify(v));
        assert.throws(() => loadConfig(join(dir, 'nfsbad.json'), ''), (err: Error) => err instanceof UsageError && re.test(err.message), JSON.stringify(v));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('log lines: JSON to a pipe, one human line on a terminal', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => { text += c; });
    const log = createLogger({ level: 'info', stream: out });
    log.info({ url: 'http://x/' }, 'webdav listening');
    log.debug('hidden');
    const rec = JSON.parse(text.trim());
    assert.equal(rec.msg, 'webdav listening');
    assert.equal(rec.url, 'http://x/');
    assert.equal(rec.level, 30);
    const line = formatLine(JSON.stringify({ level: 40, time: Date.UTC(2024, 0, 1), msg: 'disk slow', device: 2, note: 'two words', pid: 1 }));
    assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} WARN  disk slow device=2 note="two words"\n$/);
    assert.throws(() => createLogger({ level: 'loud' }), /--log-level wants one of/);
  });

  test('progress: bar text and percentages when not a terminal', () => {
    assert.equal(percent(1, 3), 33);
    assert.equal(percent(0, 0), 100);
    assert.equal(barText('scrub', 5, 10, 10), 'scrub [#####-----]  50%  5/10');
    const s = new PassThrough() as unknown as NodeJS.WriteStream;
    let text = '';
    (s as unknown as PassThrough).on('data', (c) => { text += c; });
    const p = createProgress('scrub', s);
    for (let i = 0; i <= 100; i++) p.update(i, 100);
    p.end();
    assert.equal(text.trim().split('\n').length, 11);
    assert.match(text, /^scrub: 0% \(0\/100\)\nscrub: 10% \(10\/100\)\n/);
    assert.match(text, /scrub: 100% \(100\/100\)\n$/);
  });
});
