/**
 * The SMB2/3 server process side: a TCP listener carrying Direct TCP frames (MS-SMB2 2.1,
 * transport.ts) to one SmbConnection per socket (session.ts). Frames of a connection are
 * handled one at a time, in order; reading pauses while frames wait or replies are unsent. A
 * frame above `maxFrame`, a bad transport header or anything the connection refuses closes the
 * socket.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ROOT_CTX, type PathVfs } from '../../vfs/types.js';
import { FrameDecoder, FrameError, frameHeader } from './transport.js';
import { releaseReply } from './wire/reader.js';
import { DEFAULT_MAX_IO, PendingReply, SmbConnection, type Reply } from './session.js';
import { SealPool } from './crypto/seal-pool.js';
import type { AccountLookup } from './setup.js';
import type { FileService } from './files.js';
import { DEFAULT_SHARES, ShareConfigError, type SmbShare } from './shares.js';

export interface SmbServerOptions {
  /** Address to listen on, e.g. '127.0.0.1'. */
  host: string;
  /** TCP port (445 by convention); 0 picks a free one (read it from the result). */
  port: number;
  /** Finds an account and its NT hash by user name (the gateway passes its user table's). */
  lookup: AccountLookup;
  /** Default DEFAULT_SHARES (one share "dw" of the whole namespace). IPC$ is always added. */
  shares?: readonly SmbShare[];
  /** When given, each share's path is checked at start to be a folder (else ShareConfigError). */
  paths?: PathVfs;
  /** NetBIOS computer name in NTLM's target info (default: the host name's first label, upper case, ≤ 15 characters). */
  serverName?: string;
  /** NetBIOS domain / workgroup (default WORKGROUP). */
  domain?: string;
  /** Require signing on every session (default false: enabled, not required). */
  requireSigning?: boolean;
  /** Largest frame accepted (default MaxTransact/Read/Write 8 MiB + 64 KiB of headers). */
  maxFrame?: number;
  maxCredits?: number;
  logger?: Logger;
}

export interface SmbServer {
  /** The bound TCP port. */
  port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Reading from a connection pauses while this many reply bytes wait to be sent. */
const MAX_UNSENT = 16 << 20;
/** …or this many frames wait to be handled. */
const MAX_QUEUED = 16;
/** Handling pauses while this many replies wait for a seal worker (crypto/seal-pool.ts). */
const MAX_SEALING = 2;

function netbiosName(): string {
  const n = hostname().split('.')[0]!.toUpperCase().replace(/[^A-Z0-9-]/g, '').slice(0, 15);
  return n || 'DW';
}

/** The VFS side of the file commands over `paths`: each share's root inode, resolved once. */
export function shareFileService(paths: PathVfs): FileService {
  const roots = new Map<string, Promise<number>>();
  return {
    vfs: paths.vfs,
    shareRoot(share) {
      let p = roots.get(share.path);
      if (!p) {
        p = paths.resolve(ROOT_CTX, share.path).then((r) => r.attr.ino);
        p.catch(() => roots.delete(share.path));
        roots.set(share.path, p);
      }
      return p;
    },
  };
}

/**
 * Starts the server. Rejects when the address cannot be bound, or (with `paths`) when a
 * share's path is not a folder (ShareConfigError naming the share).
 */
export async function startSmbServer(opts: SmbServerOptions): Promise<SmbServer> {
  const log = opts.logger;
  const shares = opts.shares ?? DEFAULT_SHARES;
  if (opts.paths) {
    for (const s of shares) {
      const attr = await opts.paths.stat(ROOT_CTX, s.path).catch(() => undefined);
      if (!attr || attr.type !== 'dir') throw new ShareConfigError(`share "${s.name}": ${s.path} is not a folder of the namespace (create it first, e.g. over WebDAV or SFTP)`);
    }
  }
  const serverName = opts.serverName ?? netbiosName();
  const domain = opts.domain ?? 'WORKGROUP';
  const serverGuid = randomBytes(16);
  const maxFrame = opts.maxFrame ?? DEFAULT_MAX_IO + 65536;
  const sockets = new Set<Socket>();
  const sealPool = new SealPool();
  const files = opts.paths ? shareFileService(opts.paths) : undefined;

  const onConnection = (sock: Socket): void => {
    sockets.add(sock);
    sock.setNoDelay(true);
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const conn = new SmbConnection({
      shares, lookup: opts.lookup, serverGuid, peer, ...(log ? { log } : {}),
      identity: { nbDomain: domain, nbComputer: serverName, dnsComputer: hostname() },
      ...(opts.requireSigning ? { requireSigning: true } : {}),
      ...(opts.maxCredits ? { maxCredits: opts.maxCredits } : {}),
      ...(files ? { files } : {}),
      sealPool,
    });
    const decoder = new FrameDecoder(maxFrame);
    const queue: Buffer[] = [];
    let busy = false;
    const write = (r: Buffer | readonly Buffer[]): void => {
      sock.cork();
      if (Buffer.isBuffer(r)) {
        sock.write(frameHeader(r.length));
        sock.write(r, () => releaseReply(r)); // written (or the socket gone): its buffer may be reused
      } else {
        let n = 0;
        for (const piece of r) n += piece.length;
        sock.write(frameHeader(n));
        for (let i = 0; i < r.length - 1; i++) sock.write(r[i]!);
        sock.write(r[r.length - 1]!, () => { for (const piece of r) releaseReply(piece); });
      }
      sock.uncork();
    };
    // Replies leave in order. One being encrypted in a worker (PendingReply) holds back every
    // later one until its pieces are ready, while the next frames are handled meanwhile (at most
    // MAX_SEALING replies wait for a worker at once).
    let ahead: Promise<void> | undefined;
    let sealing = 0;
    const send = (r: Reply): void => {
      if (!(r instanceof PendingReply) && !ahead) return write(r);
      if (r instanceof PendingReply) sealing++;
      const p = (ahead ?? Promise.resolve()).then(async () => {
        let pieces: Buffer | readonly Buffer[];
        if (r instanceof PendingReply) {
          try {
            pieces = await r.pieces;
          } finally {
            sealing--;
          }
        } else pieces = r;
        if (!sock.destroyed) write(pieces);
      }).catch((err: unknown) => {
        log?.error({ peer, err: String(err) }, 'smb: a reply could not be encrypted; closing the connection');
        sock.destroy();
      });
      ahead = p;
      void p.then(() => { if (ahead === p) ahead = undefined; });
    };
    // Messages the connection pushes on its own (async.ts): while a frame is being handled they
    // wait for its replies, so an interim response always leaves before its final one.
    let pushed: Buffer[] = [];
    conn.pushMessage = (m) => {
      if (sock.destroyed || !sock.writable) return false;
      if (busy) pushed.push(m);
      else send(m);
      return true;
    };
    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length && !sock.destroyed) {
          while (sealing >= MAX_SEALING && ahead) await ahead;
          const frame = queue.shift()!;
          const out = await conn.handleFrame(frame);
          if (sock.destroyed) break;
          for (const r of out.replies) send(r);
          for (const r of pushed.splice(0)) send(r);
          // No reply is a view of a request (each is built or encrypted anew), and no request of
          // the frame runs on: a large frame's buffer goes back to the decoder's spares.
          if (!out.keepsFrame) FrameDecoder.release(frame);
          if (out.close) {
            const end = (): void => { sock.end(); sock.destroySoon(); };
            if (ahead) void ahead.then(end);
            else end();
            break;
          }
        }
      } finally {
        busy = false;
        if (!sock.destroyed) for (const r of pushed.splice(0)) send(r);
        pushed = [];
      }
      if (!sock.destroyed && sock.isPaused() && queue.length < MAX_QUEUED && sock.writableLength < MAX_UNSENT) sock.resume();
    };
    sock.on('data', (data: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(data);
      } catch (err) {
        log?.info({ peer, reason: (err as FrameError).message }, 'smb: bad frame, closing the connection');
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.length === 0) {
          sock.destroy();
          return;
        }
        queue.push(f);
      }
      if (queue.length >= MAX_QUEUED || sock.writableLength >= MAX_UNSENT) sock.pause();
      void pump();
    });
    sock.on('drain', () => { if (sock.isPaused() && queue.length < MAX_QUEUED) sock.resume(); });
    sock.on('error', (err) => log?.debug({ peer, err: err.message }, 'smb: socket error'));
    sock.on('close', () => {
      sockets.delete(sock);
      void conn.closeFiles();
    });
  };

  const server = createServer(onConnection);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  log?.info({ port, shares: shares.map((s) => s.name) }, 'smb: listening');
  return {
    port,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await sealPool.close();
    },
  };
}
