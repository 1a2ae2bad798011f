/**
 * NSM, the Network Status Monitor (program 100024 version 1; XNFS chapter 11, sm_inter.x), the
 * side of it a lock server needs:
 *
 * - After a start, `notifyAll()` sends SM_NOTIFY (mon_name = `serverName`, state = this run's
 *   odd state number from grace.ts) to the statd of each client host the previous run recorded
 *   (its port from the portmapper at the client's address), in the background, each retried a
 *   few times with a growing delay; the clients then reclaim their locks during grace.
 * - SM_NOTIFY received (a client host rebooted): every NLM lock, share and queued request of
 *   the hosts whose caller_name or address equals mon_name is released (nlm.ts releaseHosts),
 *   and monitors registered for that name through SM_MON get their `status` callback. A
 *   notification sent from another machine releases only hosts at the sender's own address
 *   (one host cannot free another's locks); one from a loopback address (a local statd) any.
 * - SM_STAT answers stat_succ and this run's state; SM_MON / SM_UNMON / SM_UNMON_ALL keep a
 *   monitor list in memory (at most 1,024, loopback callers only — they are for local lock
 *   managers); SM_SIMU_CRASH (loopback only) moves to the next state number and notifies the
 *   recorded hosts again.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GraceStore } from './grace.js';
import { isLoopback, type NlmService } from './nlm.js';
import { callViaPortmap } from './nlm-rpc.js';
import { hostOf, procNames, type Program, type Procedure } from './session.js';
import {
  decodeMon, decodeMonId, decodeMyId, decodeSmName, decodeStatChge, encodeSmStat, encodeStatChge, encodeStatRes, encodeStatus,
  SM_PROC, SM_PROG, SM_RES, SM_VERS, type Mon, type MyId,
} from './wire/nsm.js';
import { AUTH, encodeAuthSys, type OpaqueAuth } from './wire/rpc.js';

const SM_NAME = procNames(SM_PROC);

const EMPTY = new Uint8Array(0);
const MAX_MONITORS = 1024;

export interface NsmOptions {
  grace: GraceStore;
  nlm: NlmService;
  /** The name this server gives in SM_NOTIFY (default the OS host name); clients match it against the server they locked with. */
  serverName?: string;
  /** Port of the portmapper on client hosts (default 111). */
  peerPortmapPort?: number;
  /** Milliseconds per call step (default 5,000). */
  timeoutMs?: number;
  /** Attempts per host (default 4), waiting `retryDelayMs` (default 1,000) times 2^attempt between them. */
  attempts?: number;
  retryDelayMs?: number;
  log?: Logger;
}

interface Monitor extends Mon {
  /** Address of the local caller that asked (callbacks go there). */
  address: string;
}

const sameId = (a: MyId, b: MyId): boolean => a.myName === b.myName && a.prog === b.prog && a.vers === b.vers && a.proc === b.proc;

export class NsmService {
  readonly serverName: string;
  private monitors: Monitor[] = [];
  private readonly cred: OpaqueAuth;
  private closed = false;

  constructor(private readonly opts: NsmOptions) {
    this.serverName = opts.serverName ?? hostname();
    this.cred = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 0, machinename: this.serverName.slice(0, 255), uid: 0, gid: 0, gids: [] }) };
  }

  /** SM version 1 for the RPC dispatcher. */
  program(): Program {
    const state = (): number => this.opts.grace.state;
    const procs: Partial<Record<number, Procedure>> = {
      [SM_PROC.NULL]: ({ call }) => { call.args.end('NULL arguments'); return EMPTY; },
      [SM_PROC.STAT]: ({ call }) => { decodeSmName(call.args); return encodeStatRes(SM_RES.SUCC, state()); },
      [SM_PROC.MON]: ({ call, peer }) => {
        const m = decodeMon(call.args);
        const address = hostOf(peer);
        if (!isLoopback(address)) return encodeStatRes(SM_RES.FAIL, state());
        this.monitors = this.monitors.filter((x) => !(x.monId.monName === m.monId.monName && sameId(x.monId.myId, m.monId.myId)));
        if (this.monitors.length >= MAX_MONITORS) return encodeStatRes(SM_RES.FAIL, state());
        this.monitors.push({ ...m, priv: Buffer.from(m.priv), address });
        return encodeStatRes(SM_RES.SUCC, state());
      },
      [SM_PROC.UNMON]: ({ call, peer }) => {
        const id = decodeMonId(call.args);
        if (isLoopback(hostOf(peer))) this.monitors = this.monitors.filter((x) => !(x.monId.monName === id.monName && sameId(x.monId.myId, id.myId)));
        return encodeSmStat(state());
      },
      [SM_PROC.UNMON_ALL]: ({ call, peer }) => {
        const id = decodeMyId(call.args);
        if (isLoopback(hostOf(peer))) this.monitors = this.monitors.filter((x) => !sameId(x.monId.myId, id));
        return encodeSmStat(state());
      },
      [SM_PROC.SIMU_CRASH]: async ({ call, peer }) => {
        call.args.end('SIMU_CRASH arguments');
        if (!isLoopback(hostOf(peer))) return EMPTY;
        this.monitors = [];
        await this.opts.grace.bump();
        void this.notifyAll(this.opts.grace.clients());
        return EMPTY;
      },
      [SM_PROC.NOTIFY]: async ({ call, peer }) => {
        const s = decodeStatChge(call.args);
        // A notification from afar speaks only for the host it comes from; a local statd for any.
        const from = hostOf(peer);
        const n = await this.opts.nlm.releaseHosts((h) => (h.name === s.monName || h.address === s.monName) && (isLoopback(from) || h.address === from));
        this.opts.log?.info({ host: s.monName, state: s.state, peer, released: n }, 'nsm: a client host rebooted, its locks are released');
        for (const m of this.monitors.filter((x) => x.monId.monName === s.monName)) {
          const { myId } = m.monId;
          void rpcCallback(m.address, myId, encodeStatus({ monName: s.monName, state: s.state, priv: m.priv }), this.cred, this.opts).catch(() => undefined);
        }
        return EMPTY;
      },
    };
    return { name: 'nsm', versions: new Map([[SM_VERS, procs]]), procName: (_v, p) => SM_NAME(p) };
  }

  /**
   * Sends SM_NOTIFY to the statd of every host in `hosts` (default: the previous run's NLM
   * records), each retried; resolves when every host was reached or gave up, with both lists
   * of addresses. Never rejects.
   */
  async notifyAll(hosts = this.opts.grace.previous()): Promise<{ delivered: string[]; failed: string[] }> {
    const targets = [...new Set(hosts.filter((c) => c.kind === 'nlm').map((c) => c.address))];
    const delivered: string[] = [], failed: string[] = [];
    const args = encodeStatChge({ monName: this.serverName, state: this.opts.grace.state });
    await Promise.all(targets.map(async (address) => {
      const attempts = this.opts.attempts ?? 4;
      for (let i = 0; i < attempts && !this.closed; i++) {
        try {
          await callViaPortmap(address, this.opts.peerPortmapPort ?? 111, { prog: SM_PROG, vers: SM_VERS, proc: SM_PROC.NOTIFY, cred: this.cred }, args, this.opts.timeoutMs ?? 5000);
          delivered.push(address);
          this.opts.log?.info({ host: address, state: this.opts.grace.state }, 'nsm: SM_NOTIFY delivered');
          return;
        } catch (err) {
          this.opts.log?.debug({ host: address, attempt: i + 1, err: (err as Error).message }, 'nsm: SM_NOTIFY not delivered');
          if (i + 1 < attempts) await new Promise((r) => setTimeout(r, (this.opts.retryDelayMs ?? 1000) * 2 ** i).unref());
        }
      }
      failed.push(address);
      this.opts.log?.warn({ host: address }, 'nsm: SM_NOTIFY could not be delivered');
    }));
    return { delivered, failed };
  }

  /** Stops retrying notifications. */
  close(): void {
    this.closed = true;
  }
}

/** The `status` callback of a monitor: my_prog/my_vers/my_proc at the monitor's (local) address. */
function rpcCallback(address: string, id: MyId, args: Uint8Array, cred: OpaqueAuth, o: NsmOptions): Promise<unknown> {
  const c = { prog: id.prog >>> 0, vers: id.vers >>> 0, proc: id.proc >>> 0, cred };
  return callViaPortmap(address, o.peerPortmapPort ?? 111, c, args, o.timeoutMs ?? 5000);
}
