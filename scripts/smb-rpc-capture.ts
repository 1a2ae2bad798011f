/**
 * Captures real DCE/RPC-over-SMB2 bytes from Samba's own client and server, for the decode test
 * vectors in protocols/smb/testdata/rpc-vectors.ts. Needs root, smbd, smbclient and rpcclient.
 *
 *   node --import tsx scripts/smb-rpc-capture.ts
 *
 * Starts a private smbd on 127.0.0.1 (its own smb.conf and state under a temp folder), puts a TCP
 * relay in front of it, runs `smbclient -L` and a few `rpcclient` commands through the relay,
 * and prints every DCE/RPC PDU that crossed the `srvsvc` pipe (the data of SMB2 WRITE requests,
 * READ responses and IOCTL FSCTL_PIPE_TRANSCEIVE requests/responses) as hex, one per line with its
 * direction. Stops the smbd and removes the temp folder at the end (also on failure).
 * Facts and bytes only: nothing here is derived from Samba's source.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SMBD_PORT = 44000 + Math.floor(Math.random() * 1000);
const RELAY_PORT = SMBD_PORT + 1000;

interface Pdu { dir: 'c2s' | 's2c'; via: string; hex: string }
const pdus: Pdu[] = [];

/** Splits direct-TCP framed SMB2 messages (MS-SMB2 2.1: 0x00 + 24-bit big-endian length). */
function frames(onMsg: (m: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUIntBE(1, 3);
      if (buf.length < 4 + len) break;
      onMsg(buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
    }
  };
}

/** Pulls pipe payloads out of one SMB2 message (and its compound parts). */
function inspect(dir: 'c2s' | 's2c', msg: Buffer): void {
  let at = 0;
  for (;;) {
    const m = msg.subarray(at);
    if (m.length < 64 || m.readUInt32BE(0) !== 0xfe534d42) return;
    const cmd = m.readUInt16LE(12), status = m.readUInt32LE(8), next = m.readUInt32LE(20);
    const body = 64;
    const keep = (via: string, off: number, len: number): void => {
      const data = m.subarray(off, off + len);
      if (data.length >= 16 && data[0] === 5 && data[1] === 0) pdus.push({ dir, via, hex: data.toString('hex') });
    };
    const ok = status === 0 || status === 0x80000005;
    if (dir === 'c2s' && cmd === 0x09) keep('WRITE', m.readUInt16LE(body + 2), m.readUInt32LE(body + 4));
    if (dir === 's2c' && cmd === 0x08 && ok && m.length >= body + 8) keep('READ', m[body + 2]!, m.readUInt32LE(body + 4));
    if (cmd === 0x0b && m.length >= body + 40) {
      if (dir === 'c2s') keep('IOCTL', m.readUInt32LE(body + 24), m.readUInt32LE(body + 28));
      else if (ok) keep('IOCTL', m.readUInt32LE(body + 32), m.readUInt32LE(body + 36));
    }
    if (next === 0) return;
    at += next;
  }
}

const sockets = new Set<net.Socket>();
function relay(): Promise<net.Server> {
  const srv = net.createServer((c) => {
    const s = net.connect(SMBD_PORT, '127.0.0.1');
    sockets.add(c).add(s);
    const up = frames((m) => inspect('c2s', m)), down = frames((m) => inspect('s2c', m));
    c.on('data', (d) => { up(d); s.write(d); });
    s.on('data', (d) => { down(d); c.write(d); });
    c.on('close', () => s.destroy());
    s.on('close', () => c.destroy());
    c.on('error', () => s.destroy());
    s.on('error', () => c.destroy());
  });
  return new Promise((res) => srv.listen(RELAY_PORT, '127.0.0.1', () => res(srv)));
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`smbd did not listen on ${port}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-rpc-capture-'));
  const smbd = { proc: undefined as ReturnType<typeof spawn> | undefined };
  const conf = join(dir, 'smb.conf');
  try {
    for (const d of ['priv', 'lock', 'state', 'cache', 'pid', 'log', 'ncalrpc', 'share']) mkdirSync(join(dir, d));
    writeFileSync(conf, [
      '[global]', `smb ports = ${SMBD_PORT}`, 'bind interfaces only = yes', 'interfaces = lo',
      `private dir = ${dir}/priv`, `lock directory = ${dir}/lock`, `state directory = ${dir}/state`,
      `cache directory = ${dir}/cache`, `pid directory = ${dir}/pid`, `ncalrpc dir = ${dir}/ncalrpc`,
      `log file = ${dir}/log/log.%m`, 'map to guest = Bad User', 'server role = standalone server',
      'disable netbios = yes', 'load printers = no', 'printing = bsd', 'printcap name = /dev/null',
      'netbios name = DWTEST', 'server string = DW capture',
      '[data]', `path = ${dir}/share`, 'comment = Data share', 'guest ok = yes', '',
    ].join('\n'));
    smbd.proc = spawn('smbd', ['--foreground', '--no-process-group', '-s', conf], { stdio: 'ignore', detached: true }); // own process group: smbd signals its group on exit
    await waitPort(SMBD_PORT);
    const srv = await relay();
    // Asynchronous: the relay runs on this process's event loop.
    const run = (cmd: string, args: string[]): Promise<void> => new Promise((res) => {
      const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      c.on('close', (code) => { process.stderr.write(`# ${cmd} ${args.join(' ')} -> ${code}\n${out}`); res(); });
    });
    await run('smbclient', ['-L', '//127.0.0.1', '-p', String(RELAY_PORT), '-N']);
    await run('rpcclient', ['-U%', '-p', String(RELAY_PORT), '-c', 'srvinfo; netsharegetinfo data; netsharegetinfo data 2; netshareenumall 0; netshareenumall 2; netsharegetinfo nosuch', '127.0.0.1']);
    await new Promise((r) => setTimeout(r, 200));
    srv.close();
    for (const s of sockets) s.destroy();
    for (const p of pdus) console.log(`${p.dir} ${p.via} ${p.hex}`);
  } finally {
    process.stderr.write('# stopping smbd\n');
    const proc = smbd.proc;
    if (proc?.pid !== undefined && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    // smbd starts samba-dcerpcd on demand, which detaches; it carries our private smb.conf path.
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(conf)) process.kill(Number(pid), 'SIGTERM');
      } catch { /* gone meanwhile */ }
    }
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write('# cleaned up\n');
  }
}

await main();
