/**
 * The client side of ONC RPC over TCP (RFC 5531) that NLM and NSM need for their callbacks:
 * one call on a fresh connection with a timeout (`rpcCall`), a PORTMAP v2 GETPORT (RFC 1833
 * section 3, `getPort`), and both together (`callViaPortmap`). Also `serveRpc`, a minimal
 * listener over a program table (a client's NLM/NSM endpoint in tests). Best-effort by design:
 * every failure is one rejected promise, never a crash.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { answer, type Programs } from './session.js';
import { encodeMapping, IPPROTO_TCP, PMAP_PROC, PMAP_PROG, PMAP_VERS } from './wire/portmap.js';
import { frameRecord, RecordDecoder } from './wire/record.js';
import { ACCEPT, decodeReply, encodeCall, type OpaqueAuth } from './wire/rpc.js';
import { type XdrReader, XdrWriter } from './wire/xdr.js';

/** A call that did not get a SUCCESS reply (refused, timed out, connection failed). */
export class RpcCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcCallError';
  }
}

export interface CallSpec {
  prog: number;
  vers: number;
  proc: number;
  cred?: OpaqueAuth;
}

/**
 * Sends one call to host:port and resolves with a reader over the results of a SUCCESS reply.
 * Rejects with RpcCallError on a connection error, a non-SUCCESS reply, or after `timeoutMs`
 * (default 5,000).
 */
export function rpcCall(host: string, port: number, c: CallSpec, args: Uint8Array, timeoutMs = 5000): Promise<XdrReader> {
  return new Promise((resolve, reject) => {
    const xid = randomInt(1, 0x7fffffff);
    const dec = new RecordDecoder();
    let sock: Socket | undefined;
    let done = false;
    const finish = (err: Error | undefined, r?: XdrReader): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock?.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(new RpcCallError(`rpc ${c.prog}/${c.vers}/${c.proc} to ${host}:${port}: no reply in ${timeoutMs} ms`)), timeoutMs);
    try {
      sock = connect({ host, port }, () => sock!.write(frameRecord(encodeCall({ xid, ...c }, args))));
    } catch (err) {
      finish(new RpcCallError(`connect ${host}:${port}: ${(err as Error).message}`));
      return;
    }
    sock.on('error', (err) => finish(new RpcCallError(`rpc to ${host}:${port}: ${err.message}`)));
    sock.on('close', () => finish(new RpcCallError(`rpc to ${host}:${port}: connection closed before the reply`)));
    sock.on('data', (d: Buffer) => {
      try {
        for (const rec of dec.push(d)) {
          const rep = decodeReply(rec);
          if (rep.xid !== xid) continue;
          if (rep.kind !== 'accepted' || rep.stat !== ACCEPT.SUCCESS) return finish(new RpcCallError(`rpc ${c.prog}/${c.vers}/${c.proc} to ${host}:${port} refused (${rep.kind} ${rep.kind === 'accepted' ? rep.stat : rep.reject})`));
          return finish(undefined, rep.results);
        }
      } catch (err) {
        finish(new RpcCallError(`rpc to ${host}:${port}: bad reply: ${(err as Error).message}`));
      }
    });
  });
}

/** The TCP port of prog/vers that the portmapper at host:pmapPort names; rejects when it has none. */
export async function getPort(host: string, pmapPort: number, prog: number, vers: number, timeoutMs = 5000): Promise<number> {
  const w = new XdrWriter(16);
  encodeMapping(w, { prog, vers, prot: IPPROTO_TCP, port: 0 });
  const r = await rpcCall(host, pmapPort, { prog: PMAP_PROG, vers: PMAP_VERS, proc: PMAP_PROC.GETPORT }, w.bytes(), timeoutMs);
  const port = r.uint('port');
  if (!port || port > 65535) throw new RpcCallError(`program ${prog} version ${vers} is not registered at ${host}:${pmapPort}`);
  return port;
}

/** GETPORT at host's portmapper, then the call; the timeout applies to each step. */
export async function callViaPortmap(host: string, pmapPort: number, c: CallSpec, args: Uint8Array, timeoutMs = 5000): Promise<XdrReader> {
  const port = await getPort(host, pmapPort, c.prog, c.vers, timeoutMs);
  return rpcCall(host, port, c, args, timeoutMs);
}

/** A minimal RPC listener over `programs` (one call at a time per connection is not assumed). */
export async function serveRpc(programs: Programs, host = '127.0.0.1', port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<Socket>();
  const srv = createServer((s) => {
    socks.add(s);
    const dec = new RecordDecoder();
    const peer = `${s.remoteAddress}:${s.remotePort}`;
    s.on('data', (d: Buffer) => {
      let recs: Buffer[];
      try {
        recs = dec.push(d);
      } catch {
        s.destroy();
        return;
      }
      for (const rec of recs) void answer(programs, rec, peer).then((rep) => { if (rep && !s.destroyed) s.write(frameRecord(rep)); });
    });
    s.on('error', () => undefined);
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(port, host, () => res()); });
  return {
    port: (srv.address() as AddressInfo).port,
    close: () => new Promise<void>((res) => { for (const s of socks) s.destroy(); srv.close(() => res()); }),
  };
}
