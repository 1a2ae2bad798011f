/**
 * End-to-end test of issue 7's acceptance 4 in the real gateway (`dw serve --smb`, WebDAV and,
 * when FUSE can be mounted, `--fuse`, on the default RocksDB + rs:4+2 pool): a byte-range lock
 * taken over SMB conflicts with the same range through WebDAV (LOCK, curl) and through FUSE
 * (python3 fcntl.lockf on the mount), both ways; a blocking SMB LOCK answers STATUS_PENDING and
 * gets its final answer when the WebDAV lock goes; a real client (smbclient `put`) cannot write
 * a range that WebDAV or FUSE holds (STATUS_FILE_LOCK_CONFLICT), as the NLM test does for NFS.
 *
 * The SMB LOCK requests come from a small client in this test (the in-process test client of
 * protocols/smb/testdata over a TCP socket): Debian's smbclient has no byte-range lock command
 * for SMB2 (its `lock` is the SMB1 POSIX extension), the Samba Python bindings have none either,
 * and the kernel's cifs client is not available here.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { FrameOutput, SmbConnection } from '../../protocols/smb/session.js';
import { TestClient, type Reply } from '../../protocols/smb/testdata/client.js';
import { FrameDecoder, frameHeader } from '../../protocols/smb/transport.js';
import { STATUS } from '../../protocols/smb/errors.js';
import { Command, HDR_FLAGS } from '../../protocols/smb/wire/header.js';
import { DIALECT } from '../../protocols/smb/wire/negotiate.js';
import { CREATE_OPTION, DISPOSITION, type FileId } from '../../protocols/smb/wire/files.js';
import { LOCK_FLAG, writeLockRequest } from '../../protocols/smb/wire/lock.js';
import { cleanupAll, curl, serve, tempDir, type Server } from './gateway-harness.js';
import { davLock, davUnlock, LOCK_PY, noFuse } from './lock-peers.js';

after(cleanupAll);

/** The test client's transport over TCP: one request frame out, the next frame in. */
class TcpTransport {
  private readonly decoder = new FrameDecoder((8 << 20) + 65536);
  private readonly frames: Buffer[] = [];
  private wake: (() => void) | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.frames.push(...this.decoder.push(d));
      this.wake?.();
    });
  }

  static open(port: number): Promise<TcpTransport> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new TcpTransport(s)));
      s.once('error', reject);
    });
  }

  /** The next frame the server sends (waiting up to `ms`). */
  async next(ms = 10_000): Promise<Buffer> {
    const end = Date.now() + ms;
    while (!this.frames.length) {
      if (Date.now() > end) throw new Error('no SMB frame from the server');
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 100); });
    }
    return this.frames.shift()!;
  }

  get queued(): number {
    return this.frames.length;
  }

  async handleFrame(frame: Buffer): Promise<FrameOutput> {
    this.sock.write(Buffer.concat([frameHeader(frame.length), frame]));
    return { replies: [await this.next()], close: false };
  }

  close(): void {
    this.sock.destroy();
  }
}


describe('SMB byte-range locks against WebDAV and FUSE (issue 7, acceptance 4)', () => {
  test('an SMB lock and the same range through WebDAV or FUSE exclude each other both ways', { timeout: 180_000 }, async (t) => {
    if (noFuse) t.diagnostic(`the FUSE half is not run: ${noFuse}`);
    const tmp = await tempDir();
    const mp = join(tmp, 'mnt');
    await mkdir(mp);
    const srv = await serve(join(tmp, 'data'), ['--smb', '127.0.0.1:0', ...(noFuse ? [] : ['--fuse', mp])]);
    let tcp: TcpTransport | undefined;
    try {
      const port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
      assert.ok(port > 0, srv.stderr());
      const local = join(tmp, 'f.bin');
      writeFileSync(local, Buffer.alloc(4096, 1));
      assert.equal(curl(['-u', `admin:${srv.password}`, '-T', local, new URL('/locked.bin', srv.url).href]).status, '201');

      tcp = await TcpTransport.open(port);
      const c = new TestClient(tcp as unknown as SmbConnection);
      await c.negotiate([DIALECT.SMB311]);
      assert.equal((await c.login('admin', srv.password!)).header.status, 0);
      const tid = await c.treeConnect('dw');
      const h: FileId = (await c.open(tid, { name: 'locked.bin', desiredAccess: 0x0012019f, disposition: DISPOSITION.OPEN, options: CREATE_OPTION.NON_DIRECTORY_FILE, shareAccess: 7 })).fileId;
      const lock = (offset: number, length: number, flags: number): Promise<Reply> =>
        c.send(Command.LOCK, (w) => { writeLockRequest(w, { fileId: h, locks: [{ offset: BigInt(offset), length: BigInt(length), flags }] }); }, { treeId: tid });
      const X = LOCK_FLAG.EXCLUSIVE | LOCK_FLAG.FAIL_IMMEDIATELY;
      const py = join(tmp, 'lock.py');
      await writeFile(py, LOCK_PY);
      const fuseTry = (offset: number, length: number) => spawnSync('python3', [py, join(mp, 'locked.bin'), String(offset), String(length)], { encoding: 'utf8', timeout: 30_000 }).stdout;
      const smbPut = () => spawnSync('smbclient', ['//127.0.0.1/dw', '-p', String(port), '-U', `admin%${srv.password}`, '-m', 'SMB3', '-c', `put ${local} locked.bin`], { encoding: 'utf8', timeout: 60_000 });

      // SMB holds [10, 60): WebDAV LOCK (the whole file) is refused, so is fcntl on [40, 50)
      // through FUSE; fcntl on [100, 110) is not.
      assert.equal((await lock(10, 50, X)).header.status, 0);
      assert.equal(davLock(srv, '/locked.bin').status, '423');
      if (!noFuse) {
        assert.match(fuseTry(40, 10), /^busy 11/, 'fcntl on the FUSE mount refused while SMB holds [10, 60)');
        assert.match(fuseTry(100, 10), /^got/, 'outside the SMB range');
      }
      assert.equal((await lock(10, 50, LOCK_FLAG.UNLOCK)).header.status, 0);
      if (!noFuse) assert.match(fuseTry(40, 10), /^got/, 'free after the SMB unlock');

      // WebDAV holds the file: the SMB lock is LOCK_NOT_GRANTED and smbclient's WRITE is
      // FILE_LOCK_CONFLICT; a blocking SMB LOCK is answered STATUS_PENDING and granted when the
      // WebDAV lock goes.
      const dav = davLock(srv, '/locked.bin');
      assert.equal(dav.status, '200');
      assert.equal((await lock(10, 50, X)).header.status, STATUS.LOCK_NOT_GRANTED);
      const put = smbPut();
      assert.match(`${put.stdout}${put.stderr}`, /NT_STATUS_FILE_LOCK_CONFLICT/, 'smbclient put refused while WebDAV holds the file');
      const interim = await lock(10, 50, LOCK_FLAG.EXCLUSIVE);
      assert.equal(interim.header.status, STATUS.PENDING);
      assert.ok(interim.header.flags & HDR_FLAGS.ASYNC_COMMAND);
      assert.equal(tcp.queued, 0, 'no final answer while WebDAV holds the file');
      assert.equal(davUnlock(srv, '/locked.bin', dav.token!), '204');
      const [fin] = c.parse(await tcp.next());
      assert.equal(fin!.header.status, 0, 'granted when the WebDAV lock went');
      assert.equal(fin!.header.messageId, interim.header.messageId);
      assert.equal(fin!.header.asyncId, interim.header.asyncId);
      assert.equal(davLock(srv, '/locked.bin').status, '423', 'SMB holds it now');
      assert.equal((await lock(10, 50, LOCK_FLAG.UNLOCK)).header.status, 0);

      // FUSE holds [0, 100): the SMB lock on [50, 60) is refused and smbclient cannot write.
      if (!noFuse) {
        const holder = spawn('python3', ['-c', `import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
print('held', flush=True)
time.sleep(3)`, join(mp, 'locked.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((r) => holder.stdout.once('data', () => r()));
        assert.equal((await lock(50, 10, X)).header.status, STATUS.LOCK_NOT_GRANTED);
        const put2 = smbPut();
        assert.match(`${put2.stdout}${put2.stderr}`, /NT_STATUS_FILE_LOCK_CONFLICT/, 'smbclient put refused while FUSE holds [0, 100)');
        await new Promise<void>((r) => holder.once('exit', () => r()));
        assert.equal((await lock(50, 10, X)).header.status, 0, 'granted once the FUSE process is gone');
      }
      // Closing the SMB open releases what it holds.
      assert.equal((await c.closeFile(tid, h)).header.status, 0);
      const free = davLock(srv, '/locked.bin');
      assert.equal(free.status, '200');
      assert.equal(davUnlock(srv, '/locked.bin', free.token!), '204');
      const put3 = smbPut();
      assert.equal(put3.status, 0, `${put3.stdout}${put3.stderr}`);
    } finally {
      tcp?.close();
      assert.equal(await srv.stop(), 0);
    }
  });
});
