/**
 * The admin socket protocol: newline-delimited JSON over a unix socket (DIR/admin.sock, mode
 * 0600). One request per connection:
 *
 *   client → server   {"id":1,"method":"scrub","params":{...}}\n
 *   server → client   {"id":1,"progress":{"done":10,"total":200}}\n      (zero or more)
 *   server → client   {"id":1,"result":{...}}\n
 *                 or  {"id":1,"error":{"message":"...","code":"EEXIST","exitCode":1}}\n
 *
 * Lines longer than MAX_LINE bytes, invalid JSON or a request of the wrong shape get an error
 * reply and the connection is closed; the server process is never affected.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { CliError, UsageError } from './errors.js';

/** Longest accepted line, bytes (requests carry at most a few public keys). */
export const MAX_LINE = 1 << 20;
const METHOD_RE = /^[a-z][a-z.]{0,31}$/;

export class RpcProtocolError extends Error {}

/**
 * Splits a byte stream into lines, bounded: push() returns the complete lines (without '\n')
 * and throws RpcProtocolError once a line grows past `max` bytes.
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = MAX_LINE) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.size + (end - start) > this.max) throw new RpcProtocolError(`line longer than ${this.max} bytes`);
      if (nl < 0) {
        if (end > start) { this.parts.push(chunk.subarray(start)); this.size += end - start; }
        return lines;
      }
      this.parts.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
  }
}

export interface RpcRequest {
  id: number;
  method: string;
  params: Record<string, unknown>;
}

/** Checks the shape of a request line; throws RpcProtocolError. */
export function parseRequest(line: string): RpcRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new RpcProtocolError('request is not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RpcProtocolError('request is not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id)) throw new RpcProtocolError('request id must be an integer');
  if (typeof o.method !== 'string' || !METHOD_RE.test(o.method)) throw new RpcProtocolError('request method is missing or malformed');
  const params = o.params ?? {};
  if (!params || typeof params !== 'object' || Array.isArray(params)) throw new RpcProtocolError('request params must be an object');
  return { id: o.id, method: o.method, params: params as Record<string, unknown> };
}

export type Handler = (method: string, params: Record<string, unknown>, onProgress: (done: number, total: number) => void) => Promise<unknown>;

/** The wire form of an error: message, code, and the exit code the CLI should use. */
export function errorReply(err: unknown): { message: string; code: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, code: 'EUSAGE', exitCode: 2 };
  if (err instanceof CliError) return { message: err.message, code: err.code, exitCode: err.exitCode };
  const e = err as { message?: unknown; code?: unknown };
  return { message: typeof e?.message === 'string' ? e.message : String(err), code: typeof e?.code === 'string' ? e.code : 'EIO', exitCode: 1 };
}

export interface AdminServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on the unix socket `path` (removing a stale file first), chmod 0600, and answers
 * requests with `handler`. close() stops listening, ends open connections and removes the file.
 */
export async function listenAdmin(path: string, handler: Handler, log?: { warn(o: object, m: string): void }): Promise<AdminServer> {
  const conns = new Set<Socket>();
  const server: Server = createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => {});
    const dec = new LineDecoder();
    let busy = false;
    const send = (o: object) => { if (!sock.destroyed && sock.writable) sock.write(`${JSON.stringify(o)}\n`); };
    sock.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = dec.push(chunk);
      } catch (err) {
        send({ id: 0, error: { message: (err as Error).message, code: 'EPROTO', exitCode: 1 } });
        sock.end();
        return;
      }
      for (const line of lines) {
        if (!line.trim()) continue;
        if (busy) { send({ id: 0, error: { message: 'one request per connection', code: 'EPROTO', exitCode: 1 } }); sock.end(); return; }
        let req: RpcRequest;
        try {
          req = parseRequest(line);
        } catch (err) {
          send({ id: 0, error: { message: (err as Error).message, code: 'EPROTO', exitCode: 1 } });
          sock.end();
          return;
        }
        busy = true;
        handler(req.method, req.params, (done, total) => send({ id: req.id, progress: { done, total } }))
          .then((result) => send({ id: req.id, result: result ?? null }))
          .catch((err: unknown) => {
            if (!(err instanceof UsageError) && !(err instanceof CliError)) log?.warn({ err, method: req.method }, 'admin request failed');
            send({ id: req.id, error: errorReply(err) });
          })
          .finally(() => sock.end());
      }
    });
  });
  await unlink(path).catch(() => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  await chmod(path, 0o600);
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) c.destroy();
      });
      await unlink(path).catch(() => {});
    },
  };
}

/** Returned by callAdmin when nothing listens on the socket (no file, or a stale one). */
export const NO_SERVER = Symbol('no admin server');

/**
 * Sends one request to the admin socket at `path`; calls onProgress for each progress event;
 * resolves with the result, or NO_SERVER if no server answers. A server error is thrown as
 * UsageError (exit 2) or CliError carrying the server's code and exit code.
 */
export function callAdmin(path: string, method: string, params: Record<string, unknown>, onProgress?: (done: number, total: number) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const dec = new LineDecoder();
    let connected = false;
    let settled = false;
    const finish = (fn: () => void) => { if (!settled) { settled = true; sock.destroy(); fn(); } };
    sock.setTimeout(3000);
    sock.on('connect', () => {
      connected = true;
      sock.setTimeout(0);
      sock.write(`${JSON.stringify({ id: 1, method, params })}\n`);
    });
    sock.on('timeout', () => finish(() => (connected ? reject(new CliError('the admin socket stopped answering')) : resolve(NO_SERVER))));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && ['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'EACCES'].includes(err.code ?? '')) finish(() => resolve(NO_SERVER));
      else finish(() => reject(new CliError(`admin socket: ${err.message}`)));
    });
    sock.on('close', () => finish(() => reject(new CliError('the server closed the admin connection without an answer (did it stop?)'))));
    sock.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = dec.push(chunk);
      } catch (err) {
        finish(() => reject(new CliError(`admin socket: ${(err as Error).message}`)));
        return;
      }
      for (const line of lines) {
        let msg: { progress?: { done: number; total: number }; result?: unknown; error?: { message: string; code: string; exitCode: number } };
        try {
          msg = JSON.parse(line);
        } catch {
          finish(() => reject(new CliError('admin socket sent a malformed reply')));
          return;
        }
        if (msg.progress) onProgress?.(Number(msg.progress.done), Number(msg.progress.total));
        else if (msg.error) {
          const e = msg.error;
          finish(() => reject(e.exitCode === 2 ? new UsageError(e.message) : new CliError(e.message, e.code, e.exitCode || 1)));
          return;
        } else if ('result' in msg) {
          finish(() => resolve(msg.result));
          return;
        }
      }
    });
  });
}
