/**
 * End-to-end test of the SMB server's first slice with Debian's real `smbclient` against
 * `dw serve --smb 127.0.0.1:0` (a RocksDB + rs:4+2 data folder, shares from a config file):
 * every dialect family negotiates, logs in with NTLMv2 and completes the tree connect, signed
 * (--client-protection=sign) and encrypted (--client-protection=encrypt) too; wrong passwords,
 * unknown users, unknown shares and unencrypted access to an encryption-only share are
 * refused with the NTSTATUS smbclient prints. `smbclient -L` (SMB 2 and 3, signed, encrypted)
 * and rpcclient list the configured shares through the srvsvc pipe on IPC$. File access is
 * tested in smb-files.test.ts.
 *
 * smbclient says nothing on a successful `-c exit`; a failed tree connect prints "tree connect
 * failed: NT_STATUS_…" and exits 1. The test therefore reads `-d 5` output (" session setup ok", " tconx ok")
 * and the server's JSON log lines (on its stdout)
 * ("smb: login" with the dialect, "smb: tree connect" with the share and whether the request
 * was signed or encrypted).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, serve, tempDir, type Server } from './gateway-harness.js';

interface LogLine { msg: string; [k: string]: unknown }

describe('SMB with smbclient (login and tree connect)', () => {
  let srv: Server;
  let dir: string;
  let port: number;
  let pass: string;

  /** The server's JSON log lines (on its stdout) from `from` on. */
  const logs = (from: number): LogLine[] => srv.stdout().slice(from).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

  /**
   * The first log line from `from` on that `pred` accepts, waiting up to 5 s for it (spawnSync
   * blocked this process's event loop, so the server's lines are read only afterwards).
   */
  const logLine = async (from: number, pred: (l: LogLine) => boolean): Promise<LogLine | undefined> => {
    for (let i = 0; i < 100; i++) {
      const hit = logs(from).find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };

  /** smbclient with a timeout; stdout and stderr together. */
  const smbclient = (args: string[]): { code: number | null; out: string } => {
    const r = spawnSync('smbclient', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  before(async () => {
    dir = await tempDir();
    const cfg = join(await tempDir(), 'config.json');
    writeFileSync(cfg, JSON.stringify({ smb: { serverName: 'DWTEST', shares: [
      { name: 'dw', path: '/', remark: 'the whole namespace' }, { name: 'Pub', path: '/', readOnly: true }, { name: 'vault', path: '/', requireEncryption: true },
    ] } }));
    srv = await serve(dir, ['--smb', '127.0.0.1:0', '--config', cfg]);
    port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
    assert.ok(port > 1024, srv.stderr());
    assert.match(srv.stderr(), /SMB:.*file access, locks, oplocks.*shares dw, Pub, vault/);
    assert.ok(srv.password);
    pass = srv.password!;
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  const modes: { args: string[]; dialect: string; signed?: boolean; encrypted?: boolean }[] = [
    { args: ['-m', 'SMB2'], dialect: '2.1' },
    { args: ['-m', 'SMB2_02'], dialect: '2.0.2' },
    { args: ['-m', 'SMB3_00'], dialect: '3.0' },
    { args: ['-m', 'SMB3_02'], dialect: '3.0.2' },
    { args: ['-m', 'SMB3'], dialect: '3.1.1' },
    { args: ['-m', 'SMB3', '--client-protection=encrypt'], dialect: '3.1.1', encrypted: true },
    { args: ['-m', 'SMB3_00', '--client-protection=encrypt'], dialect: '3.0', encrypted: true },
    { args: ['--client-protection=sign'], dialect: '3.1.1', signed: true },
    { args: ['-m', 'SMB2', '--client-protection=sign'], dialect: '2.1', signed: true },
  ];
  for (const m of modes) {
    test(`smbclient ${m.args.join(' ')}: logs in and completes the tree connect`, async () => {
      const from = srv.stdout().length;
      const r = smbclient(['//127.0.0.1/dw', '-U', `admin%${pass}`, ...m.args, '-d', '5', '-c', 'exit']);
      const tail = r.out.slice(-1500);
      assert.equal(r.code, 0, tail);
      // smbclient -d 5 reports each step; the Kerberos attempt before NTLMSSP fails by itself (an IP address).
      assert.match(r.out, /negotiated dialect\[SMB/, tail);
      assert.match(r.out, / session setup ok\n/, tail);
      assert.match(r.out, / tconx ok\n/, tail);
      assert.doesNotMatch(r.out, /session setup failed|tree connect failed|NT_STATUS_(?!INVALID_PARAMETER\n)/, tail);
      const login = await logLine(from, (l) => l.msg === 'smb: login');
      assert.equal(login?.user, 'admin');
      assert.equal(login?.dialect, m.dialect);
      const tcon = await logLine(from, (l) => l.msg === 'smb: tree connect');
      assert.equal(tcon?.share, 'dw', r.out);
      if (m.encrypted) {
        assert.equal(tcon?.encrypted, true, 'the TREE_CONNECT came encrypted');
        assert.match(r.out, /Encrypted SMB2 message/);
        assert.match(r.out, /Decrypted SMB2 message/, 'and smbclient decrypted our answer');
      }
      if (m.signed) {
        assert.equal(login?.signing, true, 'the client required signing');
        assert.equal(tcon?.signed, true);
        // HMAC-SHA256 (0) for 2.x, AES-128-GMAC (2) negotiated for 3.1.1.
        assert.match(r.out, new RegExp(`signed SMB2 message \\(sign_algo_id=${m.dialect === '3.1.1' ? 2 : 0}\\)`));
      }
    });
  }

  test('a wrong password and an unknown user: NT_STATUS_LOGON_FAILURE', () => {
    for (const user of [`admin%${pass}x`, `nobody%${pass}`]) {
      const r = smbclient(['//127.0.0.1/dw', '-U', user, '-c', 'exit']);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /session setup failed: NT_STATUS_LOGON_FAILURE/, user);
    }
  });

  test('an unknown share: NT_STATUS_BAD_NETWORK_NAME; share names ignore case', () => {
    const r = smbclient(['//127.0.0.1/nosuch', '-U', `admin%${pass}`, '-c', 'exit']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /tree connect failed: NT_STATUS_BAD_NETWORK_NAME/);
    const pub = smbclient(['//127.0.0.1/PUB', '-U', `admin%${pass}`, '-c', 'exit']);
    assert.equal(pub.code, 0, pub.out);
  });

  test('an encryption-only share: refused over SMB 2.1 (ACCESS_DENIED); over SMB 3 the client encrypts after the tree connect', () => {
    const r = smbclient(['//127.0.0.1/vault', '-U', `admin%${pass}`, '-m', 'SMB2', '-c', 'exit']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /tree connect failed: NT_STATUS_ACCESS_DENIED/);
    // SMB 3.1.1 without --client-protection: the share's ENCRYPT_DATA flag makes smbclient
    // encrypt what follows. `ls` then reaches the server encrypted and lists the share — an
    // unencrypted request would get ACCESS_DENIED.
    const e = smbclient(['//127.0.0.1/vault', '-U', `admin%${pass}`, '-m', 'SMB3', '-c', 'ls']);
    assert.equal(e.code, 0, e.out);
    assert.match(e.out, /blocks of size \d+\. \d+ blocks available/);
    assert.doesNotMatch(e.out, /ACCESS_DENIED|tree connect failed/);
  });

  /** The rows of `smbclient -L`'s share table: [name, type, comment]. */
  const shareTable = (out: string): string[][] => {
    const m = /Sharename\s+Type\s+Comment\n\s+-+\s+-+\s+-+\n((?:\t.*\n)*)/.exec(out);
    assert.ok(m, out);
    return m[1]!.split('\n').filter(Boolean).map((l) => {
      const r = /^\t(\S+)\s+(Disk|IPC|Printer)\s*(.*)$/.exec(l);
      assert.ok(r, `row: ${JSON.stringify(l)}`);
      return [r[1]!, r[2]!, r[3]!.trim()];
    });
  };
  const EXPECTED = [['dw', 'Disk', 'the whole namespace'], ['Pub', 'Disk', ''], ['vault', 'Disk', ''], ['IPC$', 'IPC', 'IPC Service']];

  for (const m of [['-m', 'SMB2'], ['-m', 'SMB3'], ['-m', 'SMB3', '--client-protection=encrypt'], ['-m', 'SMB2_02', '--client-protection=sign']]) {
    test(`smbclient -L ${m.join(' ')}: lists every configured share (Disk, with its remark) and IPC$ over srvsvc`, async () => {
      const from = srv.stdout().length;
      const l = smbclient(['-L', '//127.0.0.1', '-U', `admin%${pass}`, ...m, '-d', '3']);
      assert.equal(l.code, 0, l.out.slice(-2000));
      assert.deepEqual(shareTable(l.out), EXPECTED, l.out.slice(-2000));
      assert.doesNotMatch(l.out, /NT_STATUS_(?!INVALID_PARAMETER\n)|Error returning browse list/);
      const tcon = await logLine(from, (x) => x.msg === 'smb: tree connect' && x.share === 'IPC$');
      assert.ok(tcon, 'it went through IPC$');
      if (m.includes('--client-protection=encrypt')) assert.equal(tcon.encrypted, true);
    });
  }

  const rpcclient = (cmd: string): { code: number | null; out: string } => {
    const r = spawnSync('rpcclient', ['-p', String(port), '-U', `admin%${pass}`, '-c', cmd, '127.0.0.1'], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const hasRpcclient = spawnSync('sh', ['-c', 'command -v rpcclient']).status === 0;

  test('rpcclient netshareenumall, netsharegetinfo, srvinfo over the srvsvc pipe', { skip: hasRpcclient ? false : 'rpcclient is not installed' }, () => {
    const all = rpcclient('netshareenumall');
    assert.equal(all.code, 0, all.out);
    assert.deepEqual([...all.out.matchAll(/^netname: (.*)$/gm)].map((x) => x[1]), ['dw', 'Pub', 'vault', 'IPC$'], all.out);
    assert.match(all.out, /netname: dw\n\tremark:\tthe whole namespace\n/);
    const one = rpcclient('netsharegetinfo PUB 2');
    assert.equal(one.code, 0, one.out);
    assert.match(one.out, /^netname: Pub\n\tremark:\t\n\tpath:\t\n/m, 'names ignore case; the path is not shown');
    assert.match(rpcclient('netsharegetinfo nosuch 1').out, /WERR_NERR_NETNAMENOTFOUND/);
    const info = rpcclient('srvinfo');
    assert.equal(info.code, 0, info.out);
    assert.match(info.out, /^\s+DWTEST\s+Wk Sv NT SNT/m);
    assert.match(info.out, /platform_id\s+:\s+500\n/);
  });

  test('users added and changed with dw user on the running server log in over SMB', async () => {
    const add = await dw(['user', 'add', 'carol', '--password', 'c4rol pw', '--data', dir]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(smbclient(['//127.0.0.1/dw', '-U', 'carol%c4rol pw', '-m', 'SMB3', '-c', 'exit']).code, 0);
    const pw = await dw(['user', 'passwd', 'carol', '--password', 'new pw', '--data', dir]);
    assert.equal(pw.code, 0, pw.stderr);
    assert.match(smbclient(['//127.0.0.1/dw', '-U', 'carol%c4rol pw', '-c', 'exit']).out, /NT_STATUS_LOGON_FAILURE/);
    assert.equal(smbclient(['//127.0.0.1/dw', '-U', 'carol%new pw', '-c', 'exit']).code, 0);
  });
});
