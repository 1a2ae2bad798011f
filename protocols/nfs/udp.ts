/**
 * RPC over UDP (RFC 5531 §11 leaves record marking to TCP: over UDP each datagram is one whole
 * message). Served for the programs clients still ask over UDP before they open TCP: PORTMAP
 * (rpcinfo, showmount, mount.nfs ask the portmapper over UDP first) and MOUNT v3 (RFC 1813
 * appendix I). NFS itself stays on TCP: a call for a program not given here is PROG_UNAVAIL.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { ReplyCache } from './drc.js';
import { answerParts, type CallRecord, type Programs } from './session.js';

/** Largest datagram answered (a UDP payload can be at most 65,507 bytes over IPv4). */
export const MAX_DATAGRAM = 65_507;

export interface UdpRpc {
  port: number;
  close(): Promise<void>;
}

const wildcard = (host: string): boolean => host === '' || host === '0.0.0.0' || host === '::';

/**
 * Binds a UDP socket on host:port (0: any free port) answering each datagram with the programs
 * given. A datagram that is not a call is dropped; a reply over the datagram limit is dropped and
 * logged (PORTMAP and MOUNT replies are far below it). Rejects when the address cannot be bound.
 */
export function listenUdp(programs: Programs, host: string, port: number, log?: Logger, drc?: ReplyCache, observe?: (c: CallRecord) => void): Promise<UdpRpc> {
  const sock: Socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
  const inflight = new Set<Promise<void>>();
  sock.on('message', (msg, rinfo) => {
    const peer = `${rinfo.address}:${rinfo.port}`;
    // The address the datagram came to is known only when bound to one (not a wildcard).
    const p = answerParts(programs, msg, peer, log, drc, observe, wildcard(host) ? undefined : host).then((parts) => {
      if (!parts) return;
      const reply = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (reply.length > MAX_DATAGRAM) {
        log?.warn({ peer, bytes: reply.length }, 'nfs: UDP reply too large, dropped');
        return;
      }
      sock.send(reply, rinfo.port, rinfo.address, (err) => { if (err) log?.debug({ peer, err: err.message }, 'nfs: UDP send failed'); });
    }).catch((err: unknown) => log?.error({ err, peer }, 'nfs: UDP reply failed')).finally(() => inflight.delete(p));
    inflight.add(p);
  });
  sock.on('error', (err) => log?.debug({ err: err.message }, 'nfs: UDP socket error'));
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve({
        port: sock.address().port,
        async close() {
          await new Promise<void>((r) => sock.close(() => r()));
          await Promise.allSettled([...inflight]);
        },
      });
    });
  });
}
