/**
 * The NFSv4.1 conformance suite (test/nfs4/suite.ts, checked against nfs-ganesha in
 * nfs4-ganesha.test.ts) against our own server: RocksDB + an rs:4+2 pool, a 10 s lease, client
 * records in a state folder so that a restart gives a grace period (and, in the second run,
 * none: no state folder). `lockOther` takes its lock on the VFS's one lock table under another
 * client id, as FUSE, WebDAV, SFTP and NLM do; `writeFile` writes through the VFS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { startNfsServer, type NfsServer } from '../../protocols/nfs/index.js';
import { nfs4Suite, type Nfs4Server } from '../nfs4/suite.js';
import { createTestPool, openTestVfs } from './nfs-harness.js';

const LEASE = 10;

async function ours(graceful: boolean): Promise<Nfs4Server> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-nfs4-suite-'));
  await createTestPool(dir);
  let inst: VfsInstance;
  let srv: NfsServer;
  const start = async (port: number): Promise<void> => {
    inst = await openTestVfs(dir);
    srv = await startNfsServer({
      vfs: inst.vfs, host: '127.0.0.1', port, leaseSeconds: LEASE, graceSeconds: LEASE,
      ...(graceful ? { stateDir: join(dir, 'nfs-state') } : {}),
    });
  };
  await start(0);
  const stop = async (): Promise<void> => {
    await srv.close();
    await inst.close();
  };
  return {
    host: '127.0.0.1',
    port: srv!.port,
    root: '/',
    leaseSeconds: LEASE,
    graceful,
    restart: async () => {
      const port = srv.port;
      await stop();
      await start(port);
    },
    writeFile: async (path, bytes) => {
      const { fh } = await inst.paths.open(ROOT_CTX, `/${path}`, { write: true, create: true });
      try {
        await inst.vfs.write(ROOT_CTX, fh, 0, bytes);
        await inst.vfs.flush(ROOT_CTX, fh);
      } finally {
        await inst.vfs.release(ROOT_CTX, fh);
      }
    },
    lockOther: async (path, startAt, end) => {
      const ino = (await inst.paths.stat(ROOT_CTX, `/${path}`)).ino;
      const ctx = { ...ROOT_CTX, clientId: 'webdav:suite-other' };
      await inst.vfs.lock(ctx, ino, { type: 'write', start: startAt, end, owner: 'suite-other' }, false);
      return async () => { await inst.vfs.unlock(ctx, ino, { start: startAt, end, owner: 'suite-other' }); };
    },
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

nfs4Suite('DataWarehouse NFSv4.1 (RocksDB + rs:4+2, grace after restart)', () => ours(true));
nfs4Suite('DataWarehouse NFSv4.1 (no state folder: no grace)', () => ours(false));
