/**
 * The NFS server process side: TCP listeners that carry ONC RPC records (RFC 5531 section 11)
 * to the dispatcher (session.ts) serving PORTMAP v2, MOUNT v3 and NFS v3 from one table. The
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
import { answerParts, type Programs } from './session.js';
import { MOUNT_PROG } from './wire/mount.js';
import { NFS_PROG } from './wire/nfs3.js';
import { PMAP_PROG } from './wire/portmap.js';
import { DEFAULT_MAX_RECORD, recordMark, RecordDecoder } from './wire/record.js';

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
  logger?: Logger;
}

export interface NfsServer {
  port: number;
  portmapPort: number | undefined;
  /** Stops listening, closes every connection, releases cached open handles. */
  close(): Promise<void>;
}

/** Writes one reply record: the mark and the segments in one writev (no copy of READ data). */
function writeRecord(sock: Socket, parts: Buffer[]): void {
  const len = parts.reduce((n, b) => n + b.length, 0);
  sock.cork();
  sock.write(recordMark(len));
  for (const b of parts) sock.write(b);
  sock.uncork();
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
  let mainPort = 0;
  const programs: Programs = new Map([
    [PMAP_PROG, portmapProgram(() => mappings(mainPort))],
    [MOUNT_PROG, mountProgram(opts.vfs, exports)],
    [NFS_PROG, nfs.program()],
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
        const p = answerParts(programs, rec, peer, log, drc).then((reply) => {
          if (reply && !sock.destroyed) writeRecord(sock, reply);
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
      async close() {
        const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
        for (const s of sockets) s.destroy();
        await Promise.all(closed);
        await Promise.allSettled([...inflight]);
        await nfs.close();
      },
    };
  } catch (err) {
    for (const s of servers) s.close();
    await nfs.close();
    throw err;
  }
}
