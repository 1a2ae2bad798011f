/**
 * The NFS server process side: TCP listeners that carry ONC RPC records (RFC 5531 section 11)
 * to the dispatcher (session.ts) serving PORTMAP v2, MOUNT v3, NFS v3 and v4 and (unless turned
 * off) NLM v4 and NSM v1 from one table. The main port serves them all; an optional second listener (e.g. 111 when allowed) serves the
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
import { answerParts, type CallRecord, type Programs } from './session.js';
import { GraceStore } from './grace.js';
import { NlmService } from './nlm.js';
import { NsmService } from './nsm.js';
import { NLM_PROG } from './wire/nlm.js';
import { SM_PROG } from './wire/nsm.js';
import { MOUNT_PROG } from './wire/mount.js';
import { NFS_PROG, NFS_VERS, PROC } from './wire/nfs3.js';
import { NFS4_VERSION, NFSPROC4_COMPOUND } from './wire/nfs4.js';
import { Nfs4Service, type OpRecord } from './v4/service.js';
import { PMAP_PROG } from './wire/portmap.js';
import { DEFAULT_MAX_RECORD, recordMark, RecordDecoder } from './wire/record.js';
import { settleLoans } from './wire/xdr.js';
import { MSG } from './wire/rpc.js';
import { listenUdp, type UdpRpc } from './udp.js';

/** Reading from a connection pauses while this many reply bytes wait to be sent. */
const MAX_UNSENT = 8 << 20;

/**
 * Whether a call record is an NFSv3 WRITE (RFC 5531 call header: xid, CALL, rpcvers 2, program
 * 100003, version 3, procedure 7). Its reply holds no view of it (only wcc data, RFC 1813 3.3.7),
 * and the VFS copies the data before the call ends: its buffer may be recycled once answered.
 */
function isNfs3Write(rec: Buffer): boolean {
  return rec.length >= 24 && rec.readUInt32BE(4) === MSG.CALL && rec.readUInt32BE(12) === NFS_PROG && rec.readUInt32BE(16) === NFS_VERS && rec.readUInt32BE(20) === PROC.WRITE;
}

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
  /**
   * Also answer PORTMAP and MOUNT over UDP on the same port number(s) as TCP (default true):
   * rpcinfo, showmount and mount.nfs ask over UDP first. NFS itself stays on TCP.
   */
  udp?: boolean;
  /** Hears of every RPC call answered (program, version, procedure, outcome, seconds): for metrics. */
  onCall?: (c: CallRecord) => void;
  /** Hears of every NFSv4 operation run inside a COMPOUND (minor version, operation, status): for metrics. */
  onOp?: (o: OpRecord) => void;
  /** Most cached open VFS handles (default 1024; the least recently used idle ones go first). */
  maxOpen?: number;
  /**
   * NLM v4 byte-range locks and NSM v1 (nlm.ts, nsm.ts, grace.ts), on the same ports; on by
   * default, `false` turns them off. `stateFile`: where client hosts holding locks are recorded
   * (JSON, written atomically); without it there is no grace period and no SM_NOTIFY after a
   * restart. `graceMs` (default 45,000): after a start with recorded clients, only reclaims
   * are honoured that long. `peerPortmapPort` (default 111): the portmapper port on client hosts
   * for GRANTED / _RES / SM_NOTIFY callbacks. `serverName` (default the OS host name): mon_name
   * in SM_NOTIFY.
   */
  nlm?: false | { stateFile?: string; graceMs?: number; peerPortmapPort?: number; serverName?: string; callbackTimeoutMs?: number; notifyAttempts?: number; notifyRetryDelayMs?: number };
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
  /**
   * With NLM on: this run's NSM state number, the SM_NOTIFY round to the previous run's clients
   * (resolves when done), and whether NLM honours only reclaims now.
   */
  nlm?: { state: number; notified: Promise<{ delivered: string[]; failed: string[] }>; inGrace: () => boolean };
  /** The NFSv4 service (its state, for tests and metrics); undefined with `nfs4: false`. */
  nfs4: Nfs4Service | undefined;
  /** Stops listening, closes every connection, releases cached open handles. */
  close(): Promise<void>;
}

/** Writes one reply record: the mark and the segments in one writev (no copy of READ data). */
function writeRecord(sock: Socket, parts: Buffer[]): void {
  const len = parts.reduce((n, b) => n + b.length, 0);
  sock.cork();
  sock.write(recordMark(len));
  // Lent READ data (XdrWriter.opaqueRef) goes back once written, or failed to be.
  parts.forEach((b, i) => sock.write(b, i === parts.length - 1 ? () => settleLoans(parts) : undefined));
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
  const nfs = new Nfs3Service(opts.vfs, { exportId, exports, idleMs: opts.idleMs, maxOpen: opts.maxOpen, ...(log ? { log } : {}) });
  const v4 = opts.nfs4 === false ? undefined : new Nfs4Service(opts.vfs, {
    exports, ...(log ? { log } : {}), ...(opts.onOp ? { onOp: opts.onOp } : {}),
    ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
    ...(opts.graceSeconds !== undefined ? { graceSeconds: opts.graceSeconds } : {}),
    ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
  });
  let mainPort = 0;
  const lk = opts.nlm === false ? undefined : opts.nlm ?? {};
  const nfsProgram = nfs.program();
  if (v4) {
    nfsProgram.versions.set(NFS4_VERSION, v4.procedures());
    // One duplicate request cache: v3's procedures as before, v4.0 COMPOUNDs by their operations.
    const v3 = nfsProgram.drc;
    if (v3) {
      nfsProgram.drc = {
        procs: v3.procs,
        keep: (res, call, size) => (call.vers === NFS4_VERSION ? Nfs4Service.keepsReply(res, size) : v3.keep?.(res, call, size) ?? true),
        want: (call, args) => (call.vers === NFS4_VERSION ? call.proc === NFSPROC4_COMPOUND && Nfs4Service.wantsReplyCache(args) : v3.procs.has(call.proc)),
      };
    }
  }
  const programs: Programs = new Map([
    [PMAP_PROG, portmapProgram(() => mappings(mainPort, { locks: !!lk, nfs4: v4 !== undefined, udp: opts.udp !== false }))],
    [MOUNT_PROG, mountProgram(opts.vfs, exports)],
    [NFS_PROG, nfsProgram],
  ]);
  let grace: GraceStore | undefined, nlm: NlmService | undefined, nsm: NsmService | undefined;
  if (lk) {
    try {
      grace = await GraceStore.open({ file: lk.stateFile, graceMs: lk.graceMs });
    } catch (err) {
      await nfs.close();
      throw err;
    }
    const peer = { peerPortmapPort: lk.peerPortmapPort, serverName: lk.serverName, ...(log ? { log } : {}) };
    nlm = new NlmService({ nfs, grace, ...peer, callbackTimeoutMs: lk.callbackTimeoutMs });
    nsm = new NsmService({ grace, nlm, ...peer, timeoutMs: lk.callbackTimeoutMs, attempts: lk.notifyAttempts, retryDelayMs: lk.notifyRetryDelayMs });
    programs.set(NLM_PROG, nlm.program());
    programs.set(SM_PROG, nsm.program());
    // One lock table, one grace: while either protocol's clients reclaim, neither takes new locks.
    if (v4) {
      const g = grace;
      g.sharedGrace = () => v4.state.ownGrace();
      v4.state.sharedGrace = () => g.ownGrace();
    }
  }
  const stopLocks = async (): Promise<void> => {
    nlm?.close();
    nsm?.close();
    await grace?.close();
  };
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
        const p = answerParts(programs, rec, peer, log, drc, opts.onCall, sock.localAddress).then((reply) => {
          if (reply && !sock.destroyed) writeRecord(sock, reply);
          else if (reply) settleLoans(reply);
          if (isNfs3Write(rec)) RecordDecoder.release(rec); // answered: its data was copied into the file's records
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
  const udps: UdpRpc[] = [];
  // Over UDP only the programs a client asks before it opens TCP (udp.ts).
  const udpPrograms: Programs = new Map([[PMAP_PROG, programs.get(PMAP_PROG)!], [MOUNT_PROG, programs.get(MOUNT_PROG)!]]);
  try {
    const main = createServer(onConnection);
    servers.push(main);
    mainPort = await listen(main, opts.host, opts.port);
    if (opts.udp !== false) udps.push(await listenUdp(udpPrograms, opts.host, mainPort, log, drc, opts.onCall));
    let portmapPort: number | undefined;
    if (opts.portmapPort !== undefined) {
      const pm = createServer(onConnection);
      servers.push(pm);
      portmapPort = await listen(pm, opts.host, opts.portmapPort);
      if (opts.udp !== false) udps.push(await listenUdp(udpPrograms, opts.host, portmapPort, log, drc, opts.onCall));
    }
    log?.info({ port: mainPort, portmapPort, nsmState: grace?.state, graceMs: grace?.graceLeftMs() }, 'nfs: listening');
    return {
      port: mainPort,
      portmapPort,
      ...(grace && nsm ? { nlm: { state: grace.state, notified: nsm.notifyAll(), inGrace: () => grace!.inGrace() } } : {}),
      nfs4: v4,
      async close() {
        const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
        for (const s of sockets) s.destroy();
        await Promise.all([...closed, ...udps.map((u) => u.close())]);
        await Promise.allSettled([...inflight]);
        await stopLocks();
        await nfs.close();
        await v4?.close();
      },
    };
  } catch (err) {
    for (const s of servers) s.close();
    for (const u of udps) await u.close();
    await stopLocks();
    await nfs.close();
    await v4?.close();
    throw err;
  }
}
