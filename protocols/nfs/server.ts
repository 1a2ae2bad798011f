/**
 * The NFS server process side: TCP listeners that carry ONC RPC records (RFC 5531 section 11)
 * to the dispatcher (session.ts) serving PORTMAP v2, MOUNT v3 and NFS v3 and v4 from one table. The
 * main port serves all three; an optional second listener (e.g. 111 when allowed) serves the
 * same table, so a client that asks the portmapper there learns the main port. Each
 * connection answers up to `maxInflight` calls at once (replies may go out of order, matched by
 * xid) and pauses reading beyond that. A record too large closes the connection.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Vfs } from '../../vfs/types.js';
import { Nfs3Service } from './nfs3.js';
import { mappings, mountProgram, portmapProgram } from './programs.js';
import { ReplyCache } from './drc.js';
import { ExportTable, type Export } from './exports.js';
import { answer, type Programs } from './session.js';
import { MOUNT_PROG } from './wire/mount.js';
import { NFS_PROG } from './wire/nfs3.js';
import { NFS4_VERSION } from './wire/nfs4.js';
import { Nfs4Service } from './v4/service.js';
import { PMAP_PROG } from './wire/portmap.js';
import { DEFAULT_MAX_RECORD, frameRecord, RecordDecoder } from './wire/record.js';

/** Reading from a connection pauses while this many reply bytes wait to be sent. */
const MAX_UNSENT = 8 << 20;

export interface NfsServerOptions {
  vfs: Vfs;
  /** Address to listen on, e.g. '127.0.0.1'. */
  host: string;
  /** TCP port of NFS, MOUNT and PORTMAP; 0 picks a free one (read it from the result). */
  port: number;
  /** A second port serving the same programs, for the portmapper (111 by convention); none by default. */
  portmapPort?: number;
  /**
   * The exports (exports.ts: path, clients, readOnly, squash). Default: the whole VFS to every
   * client with identities as sent, export id `exportId` — for tests and benchmarks; `dw serve`
   * always passes a list.
   */
  exports?: readonly Export[];
  /** fsid in attributes, and the default export's id (default 1). Keep it stable so handles survive restarts. */
  exportId?: number;
  /** Largest RPC record accepted (default 1 MiB + 64 KiB). */
  maxRecord?: number;
  /** Duplicate request cache bounds (default 1024 replies, 120 s); `false` turns it off. */
  drc?: { maxEntries?: number; maxAgeMs?: number } | false;
  /** Calls answered at once per connection (default 32). */
  maxInflight?: number;
  /** Milliseconds an idle cached open handle stays open (default 2000). */
  idleMs?: number;
  /** Serve NFSv4.0 and 4.1 (program 100003 version 4) next to v3; default true. */
  nfs4?: boolean;
  /** NFSv4 lease time in seconds (default 90). */
  leaseSeconds?: number;
  /** NFSv4 grace period after a restart, seconds (default: the lease time); only with `stateDir`. */
  graceSeconds?: number;
  /**
   * Folder for the NFSv4 stable client record (nfs4-clients.json, written atomically): the
   * clients that may reclaim their opens and locks in the grace period after a restart.
   * Without it there is no grace period (and no reclaim).
   */
  stateDir?: string;
  logger?: Logger;
}

export interface NfsServer {
  port: number;
  portmapPort: number | undefined;
  /** The NFSv4 service (its state, for tests and metrics); undefined with `nfs4: false`. */
  nfs4: Nfs4Service | undefined;
  /** Stops listening, closes every connection, releases cached open handles. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the server; rejects when an address cannot be bound. */
export async function startNfsServer(opts: NfsServerOptions): Promise<NfsServer> {
  const log = opts.logger;
  const exportId = opts.exportId ?? 1;
  const maxInflight = opts.maxInflight ?? 32;
  const exports = opts.exports ? new ExportTable(opts.exports) : ExportTable.open(exportId);
  await exports.init(opts.vfs);
  const nfs = new Nfs3Service(opts.vfs, { exportId, exports, idleMs: opts.idleMs, ...(log ? { log } : {}) });
  const v4 = opts.nfs4 === false ? undefined : new Nfs4Service(opts.vfs, {
    exports, ...(log ? { log } : {}),
    ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
    ...(opts.graceSeconds !== undefined ? { graceSeconds: opts.graceSeconds } : {}),
    ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
  });
  let mainPort = 0;
  const nfsProgram = nfs.program();
  if (v4) nfsProgram.versions.set(NFS4_VERSION, v4.procedures());
  const programs: Programs = new Map([
    [PMAP_PROG, portmapProgram(() => mappings(mainPort, v4 !== undefined))],
    [MOUNT_PROG, mountProgram(opts.vfs, exports)],
    [NFS_PROG, nfsProgram],
  ]);
  const drc = opts.drc === false ? undefined : new ReplyCache(opts.drc ?? {});
  const sockets = new Set<Socket>();
  const inflight = new Set<Promise<void>>();

  const onConnection = (sock: Socket): void => {
    sockets.add(sock);
    sock.setNoDelay(true);
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const decoder = new RecordDecoder(opts.maxRecord ?? DEFAULT_MAX_RECORD);
    let running = 0;
    const maybeResume = (): void => {
      if (running < maxInflight && sock.writableLength < MAX_UNSENT && sock.isPaused() && !sock.destroyed) sock.resume();
    };
    sock.on('drain', maybeResume);
    sock.on('data', (data: Buffer) => {
      let records: Buffer[];
      try {
        records = decoder.push(data);
      } catch (err) {
        log?.info({ peer, err: (err as Error).message }, 'nfs: bad record, closing the connection');
        sock.destroy();
        return;
      }
      for (const rec of records) {
        running++;
        if (running >= maxInflight) sock.pause();
        const p = answer(programs, rec, peer, log, drc).then((reply) => {
          if (reply && !sock.destroyed) sock.write(frameRecord(reply));
          if (sock.writableLength >= MAX_UNSENT) sock.pause(); // a client that does not read its replies
        }).catch((err: unknown) => log?.error({ err, peer }, 'nfs: reply failed')).finally(() => {
          inflight.delete(p);
          running--;
          maybeResume();
        });
        inflight.add(p);
      }
    });
    sock.on('error', (err) => log?.debug({ peer, err: err.message }, 'nfs: socket error'));
    sock.on('close', () => sockets.delete(sock));
  };

  const servers: Server[] = [];
  try {
    const main = createServer(onConnection);
    servers.push(main);
    mainPort = await listen(main, opts.host, opts.port);
    let portmapPort: number | undefined;
    if (opts.portmapPort !== undefined) {
      const pm = createServer(onConnection);
      servers.push(pm);
      portmapPort = await listen(pm, opts.host, opts.portmapPort);
    }
    log?.info({ port: mainPort, portmapPort }, 'nfs: listening');
    return {
      port: mainPort,
      portmapPort,
      nfs4: v4,
      async close() {
        const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
        for (const s of sockets) s.destroy();
        await Promise.all(closed);
        await Promise.allSettled([...inflight]);
        await nfs.close();
        await v4?.close();
      },
    };
  } catch (err) {
    for (const s of servers) s.close();
    await nfs.close();
    await v4?.close();
    throw err;
  }
}
