/**
 * The WebDAV server on node:http / node:https: Basic authentication against the gateway's
 * Authenticator, request-target decoding, dispatch by a table keyed by method, and one place
 * that turns errors into replies (DavError / VfsError → status, anything else → 500).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ctxFor, type Authenticator, type PathVfs } from '../../vfs/types.js';
import { VfsError } from '../../vfs/errno.js';
import { DavError, statusOf, type ErrnoContext } from './errors.js';
import { LockDb } from './locks.js';
import { errorBody } from './multistatus.js';
import { DavRequest, type DavServerState } from './session.js';
import { parseBasicAuth } from './wire/headers.js';
import { decodeRequestPath } from './wire/url.js';
import { copyMove } from './methods/copymove.js';
import { get } from './methods/get.js';
import { lock, unlock } from './methods/lock.js';
import { propfind } from './methods/propfind.js';
import { proppatch } from './methods/proppatch.js';
import { put } from './methods/put.js';
import { allowFor, del, mkcol, options } from './methods/simple.js';

export interface WebdavServerOptions {
  paths: PathVfs;
  auth: Authenticator;
  host: string;
  /** 0 = any free port. */
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  logger?: Logger;
}

export interface WebdavServer {
  /** The bound port. */
  port: number;
  /** Base URL, e.g. 'http://127.0.0.1:8080/'. */
  url: string;
  /** Stops accepting, closes every connection and resolves when the server is down. */
  close(): Promise<void>;
}

type Handler = (dr: DavRequest) => Promise<void>;

/** Method name → handler. Methods Node's parser knows but that are not here answer 501. */
export const METHODS: Readonly<Record<string, Handler>> = {
  OPTIONS: options,
  GET: get,
  HEAD: get,
  PUT: put,
  DELETE: del,
  MKCOL: mkcol,
  COPY: copyMove,
  MOVE: copyMove,
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  LOCK: lock,
  UNLOCK: unlock,
  POST: async () => { throw new DavError(405, 'POST is not supported on this resource'); },
};

const REALM = 'DataWarehouse WebDAV';
/** Drains (small) or refuses (large) an unread request body before an early reply. */
function discardBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.readableEnded || req.complete) return;
  const cl = Number(req.headers['content-length'] ?? NaN);
  if (req.headers['transfer-encoding'] !== undefined || !(cl <= 65536)) res.shouldKeepAlive = false;
  else req.resume();
}

/** Sends an error reply for `err` unless the response already started (then the socket is cut). */
function replyError(req: IncomingMessage, res: ServerResponse, err: unknown, log: Logger | undefined, where: ErrnoContext): void {
  const status = statusOf(err, where);
  if (status >= 500) log?.error({ err, method: req.method, url: req.url }, 'request failed');
  else log?.debug({ status, msg: (err as Error)?.message, method: req.method, url: req.url }, 'request refused');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  discardBody(req, res);
  let body = '';
  if (err instanceof DavError && err.condition) {
    body = errorBody(err.condition, err.hrefs);
    res.setHeader('Content-Type', 'application/xml; charset="utf-8"');
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Handles one request end to end. Never throws. */
async function handle(state: DavServerState, auth: Authenticator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? '';
  const handler = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  try {
    if (!handler) throw new DavError(501, `method ${method.slice(0, 32)} not implemented`);
    const creds = parseBasicAuth(req.headers.authorization);
    const principal = creds ? await auth.checkPassword(creds.user, creds.password) : null;
    if (!principal) {
      discardBody(req, res);
      res.setHeader('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
      res.setHeader('Content-Length', 0);
      res.writeHead(401);
      res.end();
      return;
    }
    const target = req.url === '*' && method === 'OPTIONS' ? { path: '/', segments: [], trailingSlash: true } : decodeRequestPath(req.url ?? '');
    const sock = req.socket;
    const ctx = ctxFor(principal, `webdav:${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`);
    const dr = new DavRequest(req, res, state, principal, ctx, target);
    try {
      await handler(dr);
    } catch (e) {
      if (e instanceof DavError && e.status === 405 && !res.headersSent) res.setHeader('Allow', await allowFor(dr).catch(() => 'OPTIONS'));
      throw e;
    }
  } catch (e) {
    if (!(e instanceof DavError || e instanceof VfsError)) state.log?.error({ err: e }, 'unexpected error');
    replyError(req, res, e, state.log, method === 'COPY' || method === 'MOVE' ? 'copymove' : 'default');
  }
}

/**
 * Starts a WebDAV server (RFC 4918 class 1 and 2) over `paths`, listening on host:port
 * (TLS when `tls` is given). Resolves once listening. Errors: the listen error (EADDRINUSE…).
 */
export async function startWebdavServer(opts: WebdavServerOptions): Promise<WebdavServer> {
  const state: DavServerState = {
    paths: opts.paths,
    locks: new LockDb(),
    log: opts.logger,
    scheme: opts.tls ? 'https' : 'http',
  };
  // A WebDAV lock on a file is also in the VFS lock table (methods/lock.ts): release it there too.
  state.locks.onRelease = (l) => {
    if (l.vfsIno === undefined) return;
    void opts.paths.vfs.unlock({ uid: 0, gid: 0, groups: [], clientId: 'webdav' }, l.vfsIno, { start: 0, end: Infinity, owner: l.token }).catch(() => undefined);
  };
  const auth = opts.auth;
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(state, auth, req, res);
  };
  const serverOpts = { requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 10_000, maxHeaderSize: 16384 };
  const server = opts.tls
    ? https.createServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, listener)
    : http.createServer(serverOpts, listener);
  server.timeout = 120_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) { socket.destroy(); return; }
    const code = err.code === 'HPE_INVALID_METHOD' ? '501 Not Implemented'
      : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${code}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  opts.logger?.info({ host: opts.host, port, tls: !!opts.tls }, 'WebDAV server listening');
  return {
    port,
    url: `${state.scheme}://${hostForUrl}:${port}/`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}
