/**
 * Test support for the WebDAV server (imported by *.test.ts only): an in-memory server with
 * one user, an Authenticator double, and a small HTTP client that sends any method, path and
 * headers verbatim.
 */
import http from 'node:http';
import { createMemoryVfs, ROOT_CTX, type Authenticator, type PathVfs, type Principal, type VfsInstance } from '../../vfs/index.js';
import { startWebdavServer, type WebdavServer } from './server.js';

export const TEST_USER = 'alice';
export const TEST_PASSWORD = 'wonder land';
export const TEST_PRINCIPAL: Principal = { name: TEST_USER, uid: 1000, gid: 1000, groups: [] };

/** Accepts exactly one user/password pair (and an optional second principal for lock tests). */
export function testAuthenticator(users: Record<string, [string, Principal]> = { [TEST_USER]: [TEST_PASSWORD, TEST_PRINCIPAL] }): Authenticator {
  return {
    async checkPassword(user, password) {
      const u = users[user];
      return u && u[0] === password ? u[1] : null;
    },
    async checkPublicKey() { return null; },
  };
}

export interface TestServer {
  srv: WebdavServer;
  inst: VfsInstance;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 (free port) over a fresh memory VFS whose root belongs to
 * TEST_PRINCIPAL. `wrap` may replace the PathVfs the server sees (e.g. a recording jail).
 */
export async function startTestServer(opts: { wrap?: (p: PathVfs) => PathVfs; auth?: Authenticator; tls?: { cert: Buffer; key: Buffer } } = {}): Promise<TestServer> {
  const inst = await createMemoryVfs();
  await inst.paths.setattr(ROOT_CTX, '/', { uid: TEST_PRINCIPAL.uid, gid: TEST_PRINCIPAL.gid, mode: 0o755 });
  const paths = opts.wrap ? opts.wrap(inst.paths) : inst.paths;
  const srv = await startWebdavServer({ paths, auth: opts.auth ?? testAuthenticator(), host: '127.0.0.1', port: 0, tls: opts.tls });
  return {
    srv, inst, port: srv.port, url: srv.url,
    async close() { await srv.close(); await inst.close(); },
  };
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; text: string }

/**
 * Sends one request. `path` goes on the request line as given (Node still refuses spaces and
 * control characters there). Basic auth for TEST_USER unless `auth` is false or a pair.
 */
export function req(port: number, method: string, path: string, o: { headers?: Record<string, string>; body?: string | Buffer; auth?: false | [string, string] } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  const cred = o.auth === undefined ? [TEST_USER, TEST_PASSWORD] : o.auth;
  if (cred) headers.Authorization = 'Basic ' + Buffer.from(`${cred[0]}:${cred[1]}`).toString('base64');
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(o.body);
  });
}
