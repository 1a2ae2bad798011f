/**
 * The shared NFSv4.1 conformance suite (test/nfs4/suite.ts: an independent client's reading of
 * RFC 8881, also run against nfs-ganesha) against this server over TCP: a memory VFS, a 3 s
 * lease, a state folder so that a restart (same port, same VFS) opens a grace period, and locks
 * of "another protocol" taken directly in the VFS lock table. No deviations are declared: the
 * server is held to the plain RFC.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryVfs, ROOT_CTX } from '../../../vfs/index.js';
import { Nfs4Session } from '../../../test/nfs4/client.js';
import { nfs4Suite } from '../../../test/nfs4/suite.js';
import { startNfsServer, type NfsServer } from '../server.js';

const LEASE = 3;

// The test client's keepAlive() sends lone SEQUENCEs on slot 0 from a timer while the test's own
// seq() calls use slot 0 too, and seq() takes the slot's seqid before the reply comes: two calls
// in flight carry the same seqid, and per RFC 8881 §2.10.6 the second is a retransmission (DELAY
// while the first runs, else the first's reply) — the lease test then sees no LOCK result. Here
// every session's seq() calls run one after another, which is what the client means.
const queues = new WeakMap<Nfs4Session, Promise<unknown>>();
const seq = Nfs4Session.prototype.seq;
Nfs4Session.prototype.seq = function (this: Nfs4Session, ...args: Parameters<typeof seq>) {
  const run = (queues.get(this) ?? Promise.resolve()).then(() => seq.apply(this, args));
  queues.set(this, run.catch(() => undefined));
  return run;
};

nfs4Suite('DataWarehouse NFSv4 over a memory VFS', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-nfs4-suite-'));
  const inst = await createMemoryVfs();
  const start = (port: number) => startNfsServer({ vfs: inst.vfs, host: '127.0.0.1', port, stateDir: dir, leaseSeconds: LEASE, nlm: false, udp: false });
  let srv: NfsServer = await start(0);
  return {
    host: '127.0.0.1',
    port: srv.port,
    root: '/',
    leaseSeconds: LEASE,
    graceful: true,
    restart: async () => {
      const port = srv.port;
      await srv.close();
      srv = await start(port);
    },
    writeFile: async (path, bytes) => {
      const { fh } = await inst.paths.open(ROOT_CTX, '/' + path, { write: true, create: true, truncate: true }, 0o644);
      try {
        await inst.vfs.write(ROOT_CTX, fh, 0, bytes);
      } finally {
        await inst.vfs.release(ROOT_CTX, fh);
      }
    },
    lockOther: async (path, start, end) => {
      const { ino } = await inst.paths.stat(ROOT_CTX, '/' + path);
      const ctx = { ...ROOT_CTX, clientId: 'smb:10.0.0.9:445' };
      await inst.vfs.lock(ctx, ino, { type: 'write', start, end, owner: 'other-protocol' });
      return async () => inst.vfs.unlock(ctx, ino, { start, end, owner: 'other-protocol' });
    },
    close: async () => {
      await srv.close();
      await inst.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
