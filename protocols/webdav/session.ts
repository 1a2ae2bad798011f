/**
 * One WebDAV request in flight: who asks (ctx, principal), what for (decoded path, parsed
 * headers), the shared server state (PathVfs, lock database, logger) and the response helpers
 * every method handler uses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Attr, Ctx, PathVfs, Principal } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { DavError } from './errors.js';
import type { LockDb } from './locks.js';
import { BoundedBody, LIMITS } from './wire/reader.js';
import { parseIf, type IfList } from './wire/if.js';
import { parseXml, type XmlElement } from './wire/xml.js';
import type { DavPath } from './wire/url.js';

/** State shared by all requests of one server. */
export interface DavServerState {
  paths: PathVfs;
  locks: LockDb;
  log: Logger | undefined;
  scheme: 'http' | 'https';
}

export const XML_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n';

export class DavRequest {
  private ifCache: IfList[] | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly state: DavServerState,
    readonly principal: Principal,
    readonly ctx: Ctx,
    readonly target: DavPath,
  ) {}

  get paths(): PathVfs { return this.state.paths; }
  get locks(): LockDb { return this.state.locks; }
  get path(): string { return this.target.path; }
  get method(): string { return this.req.method ?? ''; }

  /** A request header as one string (repeated headers joined with ', '), or undefined. */
  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** Parsed If header lists (RFC 4918 §10.4); [] when absent. */
  get ifLists(): IfList[] {
    this.ifCache ??= parseIf(this.header('if'));
    return this.ifCache;
  }

  /** Whether the request carries a body (Content-Length > 0 or a Transfer-Encoding). */
  hasBody(): boolean {
    const te = this.req.headers['transfer-encoding'];
    if (te !== undefined) return true;
    const cl = this.req.headers['content-length'];
    return cl !== undefined && cl !== '0';
  }

  /** Declared Content-Length in bytes, or undefined (chunked or absent). */
  contentLength(): number | undefined {
    const cl = this.req.headers['content-length'];
    if (cl === undefined) return undefined;
    const n = Number(cl);
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  /**
   * Reads the whole body up to `max` bytes. Over the cap → DavError 413 (the connection is
   * closed after the reply so the rest is not read).
   */
  async readBody(max: number): Promise<Buffer> {
    const declared = this.contentLength();
    if (declared !== undefined && declared > max) {
      this.res.shouldKeepAlive = false;
      throw new DavError(413, `request body larger than ${max} bytes`);
    }
    const acc = new BoundedBody(max);
    try {
      for await (const chunk of this.req) acc.push(chunk as Buffer);
    } catch (e) {
      if (e instanceof DavError) this.res.shouldKeepAlive = false;
      throw e;
    }
    return acc.toBuffer();
  }

  /** Reads and parses an XML body (RFC 4918 §8.2); null when the body is empty. 400/413 on bad input. */
  async readXml(): Promise<XmlElement | null> {
    if (!this.hasBody()) return null;
    return parseXml(await this.readBody(LIMITS.xmlBody));
  }

  /** Attributes of a path (following symlinks), or null if it does not exist. */
  async statOrNull(path: string): Promise<Attr | null> {
    try {
      return await this.paths.stat(this.ctx, path);
    } catch (e) {
      if (e instanceof VfsError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR || e.errno === Errno.ELOOP)) return null;
      throw e;
    }
  }

  /** Attributes of a path without following a final symlink, or null if it does not exist. */
  async lstatOrNull(path: string): Promise<Attr | null> {
    try {
      return await this.paths.lstat(this.ctx, path);
    } catch (e) {
      if (e instanceof VfsError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR || e.errno === Errno.ELOOP)) return null;
      throw e;
    }
  }

  /** Sends a complete response. */
  send(status: number, body?: string | Buffer, headers: Record<string, string | number> = {}): void {
    const res = this.res;
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (body === undefined || status === 204 || status === 304) {
      if (status !== 204 && status !== 304) res.setHeader('Content-Length', 0);
      res.writeHead(status);
      res.end();
      return;
    }
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.setHeader('Content-Length', buf.length);
    res.writeHead(status);
    res.end(this.method === 'HEAD' ? undefined : buf);
  }

  /** Sends an XML document (the declaration is prepended). */
  sendXml(status: number, xml: string, headers: Record<string, string | number> = {}): void {
    this.send(status, XML_HEADER + xml, { 'Content-Type': 'application/xml; charset="utf-8"', ...headers });
  }

  /**
   * Writes to the response, waiting for the socket to drain when its buffer is full. `sent` is
   * called once the chunk has been handed to the socket or has failed to be (lent bytes go back then).
   */
  async write(chunk: string | Buffer, sent?: () => void): Promise<void> {
    if (!this.res.write(chunk, sent ? () => sent() : undefined)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { this.res.off('drain', done); this.res.off('close', done); resolve(); };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
    }
  }
}
