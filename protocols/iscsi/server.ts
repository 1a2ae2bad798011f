/**
 * The iSCSI target's TCP side (RFC 7143): a listener, one connection per session
 * (MaxConnections=1, ErrorRecoveryLevel 0), framing with `PduFramer` (digests switched on
 * exactly after the final Login Response), the login phase (login.ts) then the full feature
 * phase (session.ts), the session table (TSIH, reinstatement by initiator name + ISID), the
 * targets' devices opened on first login and shared by their sessions, and I_T nexus events
 * for the logical units.
 *
 * Bad input: a PDU the codecs refuse gets a Reject (`rejectFor`), a fatal one (a data segment
 * above our MaxRecvDataSegmentLength) a Reject and a closed connection, a header digest error
 * a closed connection (7.8). Per connection memory stays bounded: reading pauses while the
 * device layer holds a queue depth of commands, while replies wait to be sent, or while the
 * framer holds more than a few PDUs; Data-Out is solicited within a byte budget (session.ts).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Nexus, TargetDevices } from './device.js';
import { LoginMachine, PORTAL_GROUP_TAG, type LoginOutcome } from './login.js';
import { Session, sessionKey } from './session.js';
import { canonicalName, initiatorAllowed, type TargetCatalog, type TargetConfig } from './targets.js';
import {
  decodeInitiatorPdu, DEFAULT_RECV_DATA_SEGMENT_LENGTH, digest, DigestError, encodeAhs, encodeBhs, NO_DIGESTS, Op, padLength, PduError,
  PduFramer, RejectReason, rejectFor, type Digests, type Frame, type LoginResponse, type TargetPdu,
} from './wire/pdu.js';
import { defaultPolicy, type Pair, type TargetPolicy } from './wire/text.js';
import { WireError } from './wire/reader.js';

/** A target's devices as the server holds them while sessions use them. */
export interface OpenTarget {
  devices: TargetDevices;
  /** Releases the volumes: called once no session uses this opening and the target was removed or its LUNs changed (TargetCatalog.watch, or seen at a login), or when the server stops. */
  close(): Promise<void>;
}

export interface IscsiServerOptions {
  /** Address to listen on ('127.0.0.1', '0.0.0.0', '::'). */
  host: string;
  /** TCP port (3260 by convention); 0 picks a free one. */
  port: number;
  /** The target catalogue, read at every login. */
  catalog: TargetCatalog;
  /** Opens a target's LUNs (volumes → TargetDevices). Called at the first login to a target, again after its LUNs changed. */
  openTarget(t: TargetConfig): Promise<OpenTarget>;
  /** Operational limits (defaults: `defaultPolicy()` of wire/text.ts). */
  policy?: Partial<TargetPolicy>;
  /** CmdSN window per session (default 64). */
  queueDepth?: number;
  /** Data-Out bytes a session holds for unfinished tasks before further R2Ts wait (default 64 MiB). */
  maxWriteBuffer?: number;
  /** Longest write (Expected Data Transfer Length) gathered; longer ones get INVALID FIELD IN CDB (default 32 MiB). */
  maxTransfer?: number;
  /** Connections accepted at once, logged in or not (default 1024); more are closed at once. */
  maxConnections?: number;
  /** A login not finished after this long is dropped (default 30 s). */
  loginTimeoutMs?: number;
  /** The address SendTargets answers (default: the connection's local address and the bound port). */
  portal?: string;
  logger?: Logger;
}

export interface IscsiServer {
  port: number;
  /** Live sessions (normal and discovery). */
  sessions(): Session[];
  /** Stops listening, closes every connection, releases every target's devices. */
  close(): Promise<void>;
}

/** Reading pauses while this many reply bytes wait to be sent. */
const MAX_UNSENT = 8 << 20;
/** …or while the framer holds this many unread bytes. */
const MAX_BUFFERED = 4 << 20;

interface DeviceEntry {
  key: string;
  open: Promise<OpenTarget>;
  users: number;
  stale: boolean;
}

function portalText(host: string, port: number): string {
  const plain = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host; // IPv4 reached through a '::' listener
  const h = plain.includes(':') ? `[${plain}]` : plain;
  return `${h}:${port},${PORTAL_GROUP_TAG}`;
}

function isidHex(isid: Buffer): string {
  return isid.toString('hex').padStart(12, '0');
}

/** Starts the target. Throws the listen error (EADDRINUSE …). */
export async function startIscsiServer(opts: IscsiServerOptions): Promise<IscsiServer> {
  const log = opts.logger;
  const policy: TargetPolicy = { ...defaultPolicy(), ...opts.policy, maxConnections: 1, errorRecoveryLevel: 0, maxOutstandingR2T: 1,
    dataPDUInOrder: true, dataSequenceInOrder: true };
  const depth = opts.queueDepth ?? 64;
  const maxConnections = opts.maxConnections ?? 1024;
  const sessions = new Map<number, Session>();
  const sockets = new Set<Socket>();
  const devices = new Map<string, DeviceEntry[]>();
  let nextTsih = 1;
  let nextNexus = 1;
  let boundPort = 0;
  let stopping = false;

  /** Closes of openings under way (the server's close() waits for them). */
  const closingOpenings = new Set<Promise<void>>();
  /** Releases an opening's volumes (it is out of the list already); a failure is logged. */
  const closeOpening = (e: DeviceEntry): void => {
    const p = e.open.then((o) => o.close()).catch((err: unknown) => log?.warn({ err: String(err) }, 'iscsi: closing a target failed'));
    closingOpenings.add(p);
    void p.finally(() => closingOpenings.delete(p));
  };
  const lunKey = (t: TargetConfig): string => JSON.stringify(t.luns.map((l) => [l.lun, l.volume]));

  async function acquire(t: TargetConfig): Promise<{ entry: DeviceEntry; target: OpenTarget }> {
    // After close() began, a new opening would outlive the server (close() has taken its list).
    if (stopping) throw new Error('the iSCSI server is stopping');
    const iqn = canonicalName(t.iqn);
    const list = devices.get(iqn) ?? [];
    devices.set(iqn, list);
    const key = lunKey(t);
    let entry = list.find((e) => e.key === key && !e.stale);
    for (const e of [...list]) {
      if (e === entry || e.key === key) continue;
      e.stale = true;
      if (e.users === 0) {
        // The LUNs changed and no session uses the old opening: release its volumes now.
        list.splice(list.indexOf(e), 1);
        closeOpening(e);
      }
    }
    if (!entry) {
      entry = { key, open: opts.openTarget(t), users: 0, stale: false };
      list.push(entry);
      entry.open.catch(() => {
        const i = list.indexOf(entry!);
        if (i >= 0) list.splice(i, 1);
      });
    }
    entry.users++;
    try {
      return { entry, target: await entry.open };
    } catch (err) {
      entry.users--;
      throw err;
    }
  }

  function release(iqn: string, entry: DeviceEntry): void {
    entry.users--;
    if (entry.users > 0 || !entry.stale) return;
    const list = devices.get(iqn) ?? [];
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    closeOpening(entry);
  }

  /**
   * A target was added, changed or removed in the catalogue: its openings that no longer match
   * it (gone, or other LUNs) are retired, closed now when no session uses them, else when the
   * last one ends (`release`). Without this a removed target's volumes stayed open until the
   * server stopped (and `dw volume delete` answered EBUSY).
   */
  async function retire(iqn: string): Promise<void> {
    const name = canonicalName(iqn);
    const list = devices.get(name);
    if (!list?.length) return;
    const t = await opts.catalog.get(name);
    const key = t ? lunKey(t) : undefined;
    for (const e of [...list]) {
      if (e.key === key || e.stale) continue;
      e.stale = true;
      if (e.users > 0) continue;
      list.splice(list.indexOf(e), 1);
      closeOpening(e);
    }
  }
  const unwatch = opts.catalog.watch?.((iqn) => {
    retire(iqn).catch((err: unknown) => log?.warn({ err: String(err), iqn }, 'iscsi: retiring a changed target failed'));
  });

  function allocTsih(): number {
    for (let i = 0; i < 0xffff; i++) {
      const t = nextTsih;
      nextTsih = nextTsih >= 0xffff ? 1 : nextTsih + 1;
      if (!sessions.has(t)) return t;
    }
    throw new Error('no free TSIH');
  }

  async function sendTargets(value: string, initiator: string, local: string, current?: TargetConfig): Promise<Pair[]> {
    const addr = opts.portal ? `${opts.portal},${PORTAL_GROUP_TAG}` : portalText(local, boundPort);
    let list: TargetConfig[];
    if (value === 'All') list = await opts.catalog.list();
    else if (value === '') list = current ? [current] : [];
    else {
      const t = await opts.catalog.get(canonicalName(value));
      list = t ? [t] : [];
    }
    const out: Pair[] = [];
    for (const t of list) {
      if (!initiatorAllowed(t, initiator)) continue;
      out.push(['TargetName', t.iqn], ['TargetAddress', addr]);
    }
    return out;
  }

  const onConnection = (sock: Socket): void => {
    if (sockets.size >= maxConnections) {
      log?.warn({ peer: `${sock.remoteAddress}:${sock.remotePort}`, connections: sockets.size }, 'iscsi: too many connections; refused');
      sock.destroy();
      return;
    }
    sockets.add(sock);
    sock.setNoDelay(true);
    // A vanished initiator (no FIN) is noticed by TCP keepalive; its session then ends like any other.
    sock.setKeepAlive(true, 60_000);
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const local = sock.localAddress ?? opts.host;
    const framer = new PduFramer({ maxRecvDataSegmentLength: DEFAULT_RECV_DATA_SEGMENT_LENGTH });
    let out: Digests = NO_DIGESTS;
    let session: Session | undefined;
    let opened: { iqn: string; entry: DeviceEntry; target: OpenTarget } | undefined;
    let nexus: Nexus | undefined;
    let gone = false;
    let busy = false;
    const loginSeq = { statSN: 1, cmdSN: 0, started: false };
    const loginTimer = setTimeout(() => drop('login timeout'), opts.loginTimeoutMs ?? 30_000);
    loginTimer.unref?.();

    // Replies finished in one turn of the event loop (several READs answered from the block
    // cache) leave in one writev: the socket stays corked until the turn's I/O callbacks are done.
    let corked = false;
    const uncork = (): void => {
      corked = false;
      if (!sock.destroyed) sock.uncork();
    };
    // `sent` (lent Data-In: BlockVolume.readLent) is called by the last write's callback, which
    // runs once the bytes are in the kernel or the socket failed (Writable calls it then too).
    const writePdus = (pdus: readonly TargetPdu[], sent?: () => void): void => {
      if (gone || sock.destroyed) {
        sent?.();
        return;
      }
      if (!corked) {
        corked = true;
        sock.cork();
        setImmediate(uncork);
      }
      // Each piece waits for the one before it; the last piece's callback stands for them all.
      let last: Buffer | undefined;
      const put = (b: Buffer): void => {
        if (last) sock.write(last);
        last = b;
      };
      for (const p of pdus) {
        const ahs = encodeAhs(p.ahs ?? []);
        const data = p.data ?? Buffer.alloc(0);
        const bhs = encodeBhs(p, ahs.length, data.length);
        put(ahs.length ? Buffer.concat([bhs, ahs]) : bhs);
        if (out.header) put(le32(digest(bhs, ahs)));
        if (data.length) {
          put(data);
          const pad = padLength(data.length);
          const padding = Buffer.alloc(pad);
          if (pad) put(padding);
          if (out.data) put(le32(digest(data, padding)));
        }
      }
      if (last) sock.write(last, sent ? () => sent() : undefined);
      else sent?.();
    };

    function drop(why: string): void {
      if (gone) return;
      log?.debug({ peer, why }, 'iscsi: dropping the connection');
      gone = true;
      if (corked) uncork(); // what was written before (a reject, a response) still goes out
      sock.destroy();
    }

    const login = new LoginMachine({
      catalog: opts.catalog,
      policy,
      sessionExists: (tsih) => sessions.has(tsih),
      log: (o, msg) => log?.info({ peer, ...o }, msg),
      begin: async (o) => {
        // Reinstatement (6.3.5): an older session of this initiator name, ISID and target ends first.
        const key = sessionKey(o);
        for (const s of sessions.values()) {
          if (s.key === key) {
            log?.info({ peer, tsih: s.tsih }, 'iscsi: session reinstated; the old one is closed');
            await closers.get(s)?.();
          }
        }
        if (o.target) {
          const iqn = canonicalName(o.target.iqn);
          const { entry, target } = await acquire(o.target);
          if (closing) {
            // The connection went while the target opened: closeSession ran without this use to release.
            release(iqn, entry);
            throw new Error('connection closed during login');
          }
          opened = { iqn, entry, target };
        }
        return allocTsih();
      },
    });

    const sessionHost = {
      write: writePdus,
      end: () => {
        gone = true;
        sock.end();
        setTimeout(() => sock.destroy(), 2000).unref?.();
      },
      drop,
      wake: () => maybeResume(),
      sendTargets: (value: string, initiator: string, current?: TargetConfig) => sendTargets(value, initiator, local, current),
      peers: (iqn: string) => [...sessions.values()].filter((s) => s.login.target && canonicalName(s.login.target.iqn) === canonicalName(iqn)),
      endAll: (iqn: string) => {
        for (const s of sessionHost.peers(iqn)) enders.get(s)?.();
      },
      log: (o: object, msg: string) => log?.debug({ peer, ...o }, msg),
    };

    function enterFullFeature(o: LoginOutcome): void {
      clearTimeout(loginTimer);
      if (o.target && opened) {
        nexus = {
          initiatorName: o.initiatorName,
          initiatorPort: `${o.initiatorName},i,0x${isidHex(o.isid)}`,
          targetPort: `${o.target.iqn},t,0x${PORTAL_GROUP_TAG.toString(16).padStart(4, '0')}`,
          id: nextNexus++,
        };
      }
      session = new Session(sessionHost, {
        login: o, statSN: loginSeq.statSN, queueDepth: depth,
        ...(opts.maxWriteBuffer ? { maxWriteBuffer: opts.maxWriteBuffer } : {}), ...(opts.maxTransfer ? { maxTransfer: opts.maxTransfer } : {}),
        ...(opened ? { devices: opened.target.devices } : {}), ...(nexus ? { nexus } : {}),
      });
      sessions.set(o.tsih, session);
      // Data-Out data straight into its task's buffer (tasks.ts): copied once out of the socket's chunks.
      const s = session;
      framer.setDataTarget((bhs, n) => s.dataTarget(bhs, n));
      closers.set(session, closeSession);
      enders.set(session, sessionHost.end);
      for (const lu of session.units()) lu.nexusAdded(nexus!);
      log?.info({ peer, tsih: o.tsih, initiator: o.initiatorName, target: o.target?.iqn ?? '(discovery)',
        digests: { header: o.params.headerDigest, data: o.params.dataDigest } }, 'iscsi: login');
    }

    let closing: Promise<void> | undefined;
    function closeSession(): Promise<void> {
      closing ??= (async () => {
        clearTimeout(loginTimer);
        drop('session closed');
        const s = session;
        if (s) {
          await s.close();
          if (sessions.get(s.tsih) === s) sessions.delete(s.tsih);
          closers.delete(s);
          enders.delete(s);
          if (nexus) for (const lu of s.units()) lu.nexusRemoved(nexus);
        }
        if (opened) release(opened.iqn, opened.entry);
        opened = undefined;
      })();
      return closing;
    }

    function maybeResume(): void {
      if (gone || !sock.isPaused()) return;
      if (session?.busy || sock.writableLength > MAX_UNSENT) return;
      sock.resume();
      void pump();
    }

    async function handleLogin(f: Frame): Promise<void> {
      const pdu = decodeInitiatorPdu(f);
      if (pdu.op !== Op.LOGIN_REQUEST) {
        // Only Login Requests before full feature phase (RFC 7143 section 6.3): a protocol error, and the end.
        writePdus([{ op: Op.LOGIN_RESPONSE, transit: false, cont: false, csg: 0, nsg: 0, versionMax: 0, versionActive: 0,
          isid: Buffer.alloc(6), tsih: 0, itt: 0xffffffff, statSN: loginSeq.statSN, expCmdSN: loginSeq.cmdSN,
          maxCmdSN: loginSeq.cmdSN, status: 0x0200, ahs: [], data: Buffer.alloc(0) } satisfies LoginResponse]);
        sessionHost.end();
        return;
      }
      if (!loginSeq.started) {
        loginSeq.started = true;
        loginSeq.cmdSN = pdu.cmdSN >>> 0;
      }
      const step = await login.handle(pdu);
      if (gone) return;
      for (const r of step.replies) {
        r.statSN = loginSeq.statSN;
        loginSeq.statSN = (loginSeq.statSN + 1) >>> 0;
        r.expCmdSN = loginSeq.cmdSN;
        r.maxCmdSN = (loginSeq.cmdSN + depth - 1) >>> 0;
      }
      writePdus(step.replies);
      if (step.close) {
        sessionHost.end();
        void closeSession();
        return;
      }
      if (step.done) {
        // Digests and our MaxRecvDataSegmentLength apply from the first PDU after the final Login Response.
        const p = step.done.params;
        out = { header: p.headerDigest, data: p.dataDigest };
        framer.setOptions({ digests: out, maxRecvDataSegmentLength: Math.max(p.targetMaxRecvDataSegmentLength, DEFAULT_RECV_DATA_SEGMENT_LENGTH) });
        enterFullFeature(step.done);
      }
    }

    function handleFull(f: Frame): void {
      const s = session!;
      if (f.dataDigestError) {
        // 7.8.2: Reject and discard; at ERL 0 lost Data-Out cannot be asked again, so that one ends the connection.
        const op = f.bhs[0]! & 0x3f;
        s.reject(new PduError('data digest error', RejectReason.DATA_DIGEST_ERROR, Buffer.from(f.bhs)));
        if (op === Op.SCSI_DATA_OUT) sessionHost.end();
        return;
      }
      const pdu = decodeInitiatorPdu(f);
      s.receive(pdu);
    }

    async function pump(): Promise<void> {
      if (busy) return;
      busy = true;
      try {
        while (!gone) {
          if (session?.busy || sock.writableLength > MAX_UNSENT) {
            sock.pause();
            break;
          }
          let f: Frame | null;
          try {
            f = framer.next();
          } catch (err) {
            if (err instanceof PduError && !gone) {
              const seq = session ? session.window : { statSN: loginSeq.statSN, expCmdSN: loginSeq.cmdSN, maxCmdSN: loginSeq.cmdSN };
              if (session) session.reject(err);
              else writePdus([rejectFor(err, seq)]);
            }
            drop(err instanceof DigestError ? 'header digest error' : (err as Error).message);
            break;
          }
          if (!f) break;
          try {
            if (!session) await handleLogin(f);
            else handleFull(f);
          } catch (err) {
            if (err instanceof PduError) {
              if (session) session.reject(err);
              else {
                writePdus([rejectFor(err, { statSN: loginSeq.statSN, expCmdSN: loginSeq.cmdSN, maxCmdSN: loginSeq.cmdSN })]);
              }
              if (err.fatal || !session) {
                if (err.fatal) drop(err.message);
                else sessionHost.end();
              }
            } else if (err instanceof WireError) {
              drop(err.message);
            } else {
              log?.error({ peer, err: String((err as Error)?.stack ?? err) }, 'iscsi: internal error; dropping the connection');
              drop('internal error');
            }
          }
        }
      } finally {
        busy = false;
      }
      if (!gone && sock.isPaused() && !session?.busy && sock.writableLength <= MAX_UNSENT && framer.buffered < MAX_BUFFERED) sock.resume();
    }

    sock.on('data', (chunk: Buffer) => {
      if (gone) return;
      framer.push(chunk);
      // Bounded: beyond a few PDUs' worth of unread bytes, stop reading until the pump catches up.
      if (framer.buffered > MAX_BUFFERED) sock.pause();
      void pump();
    });
    sock.on('drain', () => maybeResume());
    sock.on('error', (err) => log?.debug({ peer, err: err.message }, 'iscsi: socket error'));
    sock.on('close', () => {
      gone = true;
      sockets.delete(sock);
      clearTimeout(loginTimer);
      void closeSession();
    });
  };

  const closers = new Map<Session, () => Promise<void>>();
  const enders = new Map<Session, () => void>();
  const server: Server = createServer(onConnection);
  boundPort = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  log?.info({ port: boundPort, host: opts.host }, 'iscsi: listening');
  return {
    port: boundPort,
    sessions: () => [...sessions.values()],
    async close() {
      stopping = true;
      unwatch?.();
      const closed = new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...closers.values()].map((c) => c()));
      for (const s of sockets) s.destroy();
      await closed;
      for (const list of devices.values()) {
        for (const e of list) await e.open.then((o) => o.close(), () => undefined).catch(() => undefined);
      }
      devices.clear();
      await Promise.all([...closingOpenings]);
    },
  };
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}
