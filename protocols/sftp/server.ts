/**
 * The SSH side: ssh2's Server for key exchange, encryption and login; password and public-key
 * authentication through the gateway's Authenticator; one session channel per 'sftp'
 * subsystem request, served by our own SFTP v3 implementation (session.ts).
 *
 * Why not ssh2's built-in SFTP server object: it answers INIT with a fixed VERSION packet
 * that carries no extension pairs, so OpenSSH's client would never use posix-rename, statvfs,
 * hardlink or fsync. We take the subsystem as a plain channel instead (ssh2 hands one out
 * when no 'sftp' listener is registered) and speak the protocol ourselves.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel, Session } from 'ssh2';
import type { Logger } from 'pino';
import { ctxFor, type Authenticator, type PathVfs, type Principal } from '../../vfs/types.js';
import { serveSftpChannel } from './channel.js';
import { SftpSession } from './session.js';

const { Server, utils } = ssh2;

export interface SftpServerOptions {
  paths: PathVfs;
  auth: Authenticator;
  /** Address to listen on, e.g. '127.0.0.1'. */
  host: string;
  /** TCP port; 0 picks a free one (read it from the result). */
  port: number;
  /** Host private keys, PEM or OpenSSH format. */
  hostKeys: Buffer[];
  logger?: Logger;
  /** Open handles per session (files + directories). Default 256. */
  maxHandles?: number;
}

export interface SftpServer {
  /** The bound TCP port. */
  port: number;
  /** Stops listening, ends every connection, releases every handle. */
  close(): Promise<void>;
}

/** Failed login attempts per connection before it is disconnected. */
const MAX_AUTH_FAILURES = 10;
/** Shown on stderr to clients that ask for a shell or a command. */
export const ONLY_SFTP_MESSAGE = 'This service allows sftp connections only.\n';

/**
 * Checks one publickey attempt (RFC 4252 section 7). Without a signature it is the query
 * "would this key do" (answered SSH_MSG_USERAUTH_PK_OK when the Authenticator knows the key);
 * with one, the signature over the session blob must verify with that key.
 * Returns the principal to log in, 'query-ok', or null to refuse.
 */
async function checkPublicKey(auth: Authenticator, ctx: Extract<AuthContext, { method: 'publickey' }>): Promise<Principal | 'query-ok' | null> {
  const parsed = utils.parseKey(ctx.key.data);
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) return null;
  const principal = await auth.checkPublicKey(ctx.username, key.type, ctx.key.data);
  if (!principal) return null;
  if (!ctx.signature || !ctx.blob) return 'query-ok';
  return key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true ? principal : null;
}

/**
 * Starts the SFTP server. Each session runs with ctxFor(principal, 'sftp:<addr>:<port>').
 * Rejects (throws) when the address cannot be bound or a host key does not parse.
 */
export async function startSftpServer(opts: SftpServerOptions): Promise<SftpServer> {
  const log = opts.logger;
  const connections = new Set<Connection>();
  const sessions = new Set<Promise<void>>();
  for (const k of opts.hostKeys) {
    const parsed = utils.parseKey(k);
    if (parsed instanceof Error) throw new Error(`sftp: bad host key: ${parsed.message}`);
  }

  const server = new Server({ hostKeys: opts.hostKeys, ident: 'DataWarehouse_SFTP' }, (client, info) => {
    const clientId = `sftp:${info.ip}:${info.port}`;
    const clientIdent = info.header.identRaw;
    let principal: Principal | null = null;
    let failures = 0;
    connections.add(client);
    log?.debug({ clientId, ident: clientIdent }, 'sftp: connection');

    client.on('authentication', (ctx) => {
      const refuse = (): void => {
        failures++;
        if (failures > MAX_AUTH_FAILURES) {
          log?.info({ clientId, user: ctx.username }, 'sftp: too many failed logins, disconnecting');
          client.end();
          return;
        }
        ctx.reject(['publickey', 'password']);
      };
      const decide = async (): Promise<void> => {
        if (ctx.method === 'password') {
          const p = await opts.auth.checkPassword(ctx.username, ctx.password);
          if (!p) return refuse();
          principal = p;
          return ctx.accept();
        }
        if (ctx.method === 'publickey') {
          const r = await checkPublicKey(opts.auth, ctx);
          if (r === null) return refuse();
          if (r === 'query-ok') return ctx.accept(); // PK_OK; the client signs next
          principal = r;
          return ctx.accept();
        }
        ctx.reject(['publickey', 'password']);
      };
      decide().catch((err: unknown) => {
        log?.error({ err, clientId }, 'sftp: authenticator failed');
        try {
          ctx.reject(['publickey', 'password']);
        } catch { /* connection gone */ }
      });
    });

    client.on('ready', () => {
      const who = principal;
      if (!who) {
        client.end();
        return;
      }
      log?.info({ clientId, user: who.name }, 'sftp: login');
      client.on('session', (acceptSession) => {
        const session: Session = acceptSession();
        session.on('subsystem', (accept, reject, sub) => {
          if (sub.name !== 'sftp') {
            reject?.();
            return;
          }
          const channel = accept();
          const s = new SftpSession({
            paths: opts.paths,
            ctx: ctxFor(who, clientId),
            ...(opts.maxHandles !== undefined ? { maxHandles: opts.maxHandles } : {}),
            ...(log ? { logger: log } : {}),
            clientIdent,
          });
          const done = serveSftpChannel(channel, s, log);
          sessions.add(done);
          void done.finally(() => sessions.delete(done));
        });
        const refuseCommand = (accept: () => ServerChannel): void => {
          const ch = accept();
          ch.stderr.write(ONLY_SFTP_MESSAGE);
          ch.exit(1);
          ch.end();
        };
        session.on('shell', (accept) => refuseCommand(accept));
        session.on('exec', (accept) => refuseCommand(accept));
      });
    });

    client.on('error', (err: Error) => log?.debug({ clientId, err: err.message }, 'sftp: connection error'));
    client.on('close', () => {
      connections.delete(client);
      log?.debug({ clientId }, 'sftp: connection closed');
    });
  });
  server.on('error', (err: Error) => log?.error({ err }, 'sftp: server error'));

  // We accept TCP ourselves so that every socket has TCP_NODELAY (ssh2 leaves Nagle on, and
  // small replies then wait for the client's delayed ACK, ~40 ms each), and hand it to ssh2.
  const sockets = new Set<Socket>();
  const listener = createServer({ noDelay: true }, (sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    server.injectSocket(sock);
  });
  listener.on('error', (err: Error) => log?.error({ err }, 'sftp: listener error'));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    listener.once('error', onError);
    listener.listen(opts.port, opts.host, () => {
      listener.off('error', onError);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  log?.info({ host: opts.host, port }, 'sftp: listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => listener.close(() => r()));
        for (const c of connections) c.end();
        // A peer that ignores our disconnect must not hold close() forever.
        const force = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2000);
        await Promise.allSettled([...sessions]);
        await stopped;
        clearTimeout(force);
      })();
      return closing;
    },
  };
}
