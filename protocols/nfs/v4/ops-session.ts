/**
 * NFSv4.1 client and session operations (RFC 8881 §18.33–18.51): EXCHANGE_ID, CREATE_SESSION,
 * DESTROY_SESSION, DESTROY_CLIENTID, SEQUENCE (slot table and reply cache), RECLAIM_COMPLETE,
 * BIND_CONN_TO_SESSION, BACKCHANNEL_CTL, TEST_STATEID, FREE_STATEID. We make no callbacks (no
 * delegations, no layouts), so the back channel is accepted and never used.
 */
import { randomBytes } from 'node:crypto';
import { Nfs4Error, nfs4Status } from '../errors.js';
import { CDFS4, EXCHGID4_FLAG, MAX_OPS, NFS4, OP, SP4, writeStateid, type Args4, type ChannelAttrs4 } from '../wire/nfs4.js';
import type { U } from '../wire/nfs4-xdr.js';
import { XdrWriter } from '../wire/xdr.js';
import { CompoundReplay, OpReplay, type Compound, type OpDef } from './compound.js';
import { isAnonymous, isBypass, type Client, type Session } from './state.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Our channel limits: requests and replies up to 1 MiB of data plus headers, 64 slots, 64 KiB cached per slot. */
const MAX_MSG = (1 << 20) + 64 * 1024;
const MAX_SLOTS = 64;
const MAX_CACHED = 64 * 1024;

function writeChannel(w: XdrWriter, ch: ChannelAttrs4): void {
  w.uint(ch.ca_headerpadsize).uint(ch.ca_maxrequestsize).uint(ch.ca_maxresponsesize).uint(ch.ca_maxresponsesize_cached);
  w.uint(ch.ca_maxoperations).uint(ch.ca_maxrequests).array(ch.ca_rdma_ird, (x, v) => x.uint(v));
}

function session(c: Compound, id: Buffer): Session {
  const s = c.s.state.sessions.get(hex(id));
  if (!s) throw new Nfs4Error(NFS4.ERR_BADSESSION, 'unknown session');
  return s;
}

export const SESSION_OPS: Partial<Record<number, OpDef>> = {
  [OP.EXCHANGE_ID]: {
    only: 1,
    run: async (c, a: Args4<typeof OP.EXCHANGE_ID>, w) => {
      const st = c.s.state;
      if ((a.state_protect as U).tag !== SP4.NONE) throw new Nfs4Error(NFS4.ERR_INVAL, 'only SP4_NONE state protection');
      // The client may not claim CONFIRMED_R, nor flags outside the ones RFC 8881 §18.35.3 defines.
      const known = EXCHGID4_FLAG.SUPP_MOVED_REFER | EXCHGID4_FLAG.SUPP_MOVED_MIGR | EXCHGID4_FLAG.BIND_PRINC_STATEID | EXCHGID4_FLAG.MASK_PNFS | EXCHGID4_FLAG.UPD_CONFIRMED_REC_A;
      if (a.flags & ~known) throw new Nfs4Error(NFS4.ERR_INVAL, 'unknown EXCHANGE_ID flags');
      const owner = a.clientowner.co_ownerid, verf = a.clientowner.co_verifier;
      const same = st.byOwner(owner);
      const confirmed = same.find((x) => x.confirmed);
      let cl: Client;
      if (a.flags & EXCHGID4_FLAG.UPD_CONFIRMED_REC_A) {
        if (!confirmed) throw new Nfs4Error(NFS4.ERR_NOENT, 'no confirmed record to update');
        if (!confirmed.verifier.equals(verf)) throw new Nfs4Error(NFS4.ERR_NOT_SAME, 'another client instance');
        cl = confirmed;
      } else if (confirmed && confirmed.verifier.equals(verf)) cl = confirmed;
      else {
        for (const x of same) if (!x.confirmed) await st.dropClient(x, false);
        cl = st.newClient(owner, verf, 1, `${c.authNone ? 'none' : 'sys'}:${c.rpc.uid}`);
      }
      cl.lastRenew = Date.now();
      w.uhyper(cl.clientid).uint(cl.csSeq);
      w.uint((EXCHGID4_FLAG.USE_NON_PNFS | (cl.confirmed ? EXCHGID4_FLAG.CONFIRMED_R : 0)) >>> 0);
      w.uint(SP4.NONE);
      w.uhyper(0n).opaque(c.s.serverOwner); // server_owner4
      w.opaque(c.s.serverOwner); // server scope
      w.array([0], (x) => x.string('datawarehouse').string('DataWarehouse NFSv4.1').hyper(0).uint(0));
    },
  },
  [OP.CREATE_SESSION]: {
    only: 1,
    run: async (c, a: Args4<typeof OP.CREATE_SESSION>, w) => {
      const st = c.s.state;
      const cl = st.client(a.clientid);
      if (a.sequence === ((cl.csSeq - 1) >>> 0) && cl.csReply) throw new OpReplay(cl.csReply);
      if (a.sequence !== cl.csSeq) throw new Nfs4Error(NFS4.ERR_SEQ_MISORDERED, 'CREATE_SESSION sequence');
      if (!cl.confirmed) {
        for (const old of st.byOwner(cl.ownerId)) if (old !== cl) await st.dropClient(old, false);
        cl.confirmed = true;
        await st.record(cl);
      }
      const f = a.fore_chan_attrs;
      const fore: ChannelAttrs4 = {
        ca_headerpadsize: 0, ca_maxrequestsize: Math.min(f.ca_maxrequestsize, MAX_MSG), ca_maxresponsesize: Math.min(f.ca_maxresponsesize, MAX_MSG),
        ca_maxresponsesize_cached: Math.min(f.ca_maxresponsesize_cached, MAX_CACHED), ca_maxoperations: Math.max(2, Math.min(f.ca_maxoperations, MAX_OPS)),
        ca_maxrequests: Math.max(1, Math.min(f.ca_maxrequests, MAX_SLOTS)), ca_rdma_ird: [],
      };
      const b = a.back_chan_attrs;
      const back: ChannelAttrs4 = { ...b, ca_headerpadsize: 0, ca_maxrequests: Math.max(1, Math.min(b.ca_maxrequests, 16)), ca_rdma_ird: [] };
      const id = Buffer.alloc(16);
      id.writeUInt32BE(st.epoch, 0);
      id.writeUInt32BE(cl.idx, 4);
      randomBytes(8).copy(id, 8);
      const sess: Session = {
        id, key: hex(id), client: cl, slots: Array.from({ length: fore.ca_maxrequests }, () => ({ seq: 0, busy: false })),
        maxops: fore.ca_maxoperations, maxreq: fore.ca_maxrequestsize, maxresp: fore.ca_maxresponsesize, maxcached: fore.ca_maxresponsesize_cached, flags: 0,
      };
      st.sessions.set(sess.key, sess);
      cl.sessions.add(sess);
      cl.lastRenew = Date.now();
      const body = new XdrWriter(128);
      body.fixed(id).uint(a.sequence).uint(0);
      writeChannel(body, fore);
      writeChannel(body, back);
      w.fixed(body.bytes());
      cl.csReply = Buffer.concat([Buffer.alloc(4), body.bytes()]); // NFS4_OK + the body
      cl.csSeq = (cl.csSeq + 1) >>> 0;
    },
  },
  [OP.DESTROY_SESSION]: {
    only: 1,
    run: (c, id: Args4<typeof OP.DESTROY_SESSION>) => {
      const s = session(c, id);
      c.s.state.sessions.delete(s.key);
      s.client.sessions.delete(s);
    },
  },
  [OP.DESTROY_CLIENTID]: {
    only: 1,
    run: async (c, clientid: Args4<typeof OP.DESTROY_CLIENTID>) => {
      const cl = c.s.state.client(clientid, false);
      const states = [...cl.openOwners.values(), ...cl.lockOwners.values()].some((o) => o.states.size > 0);
      if (cl.sessions.size || states) throw new Nfs4Error(NFS4.ERR_CLIENTID_BUSY, 'the client has sessions or state');
      await c.s.state.dropClient(cl, false);
    },
  },
  [OP.SEQUENCE]: {
    only: 1,
    run: (c, a: Args4<typeof OP.SEQUENCE>, w) => {
      const s = session(c, a.sessionid);
      if (a.slotid >= s.slots.length) throw new Nfs4Error(NFS4.ERR_BADSLOT, `slot ${a.slotid} of ${s.slots.length}`);
      if (c.numOps > s.maxops) throw new Nfs4Error(NFS4.ERR_TOO_MANY_OPS, `${c.numOps} operations, at most ${s.maxops}`);
      const slot = s.slots[a.slotid]!;
      if (a.sequenceid === slot.seq) {
        // A retry must be the same request (RFC 8881 §2.10.6.1.3.1): other operations or
        // arguments, or another caller, under the same slot and sequence id is a false retry.
        if (slot.sum !== undefined && slot.sum !== c.requestSum) throw new Nfs4Error(NFS4.ERR_SEQ_FALSE_RETRY, 'not the request this slot and sequence id answered');
        if (slot.busy) throw new Nfs4Error(NFS4.ERR_DELAY, 'the first copy is still running');
        if (slot.reply) throw new CompoundReplay(slot.reply);
        throw new Nfs4Error(NFS4.ERR_RETRY_UNCACHED_REP, 'reply was not kept');
      }
      if (a.sequenceid !== ((slot.seq + 1) >>> 0)) throw new Nfs4Error(NFS4.ERR_SEQ_MISORDERED, `sequenceid ${a.sequenceid}, slot at ${slot.seq}`);
      slot.seq = a.sequenceid;
      slot.sum = c.requestSum;
      slot.busy = true;
      slot.reply = undefined;
      c.slot = slot;
      c.session = s;
      c.cacheThis = a.cachethis;
      s.client.lastRenew = Date.now();
      w.fixed(s.id).uint(a.sequenceid).uint(a.slotid).uint(s.slots.length - 1).uint(s.slots.length - 1).uint(0);
    },
  },
  [OP.RECLAIM_COMPLETE]: {
    only: 1,
    run: (c, _oneFs: Args4<typeof OP.RECLAIM_COMPLETE>) => {
      const cl = c.session!.client;
      if (cl.reclaimComplete) throw new Nfs4Error(NFS4.ERR_COMPLETE_ALREADY, 'RECLAIM_COMPLETE twice');
      cl.reclaimComplete = true;
      if (cl.mayReclaim) c.s.state.reclaimDone(cl);
    },
  },
  [OP.BIND_CONN_TO_SESSION]: {
    only: 1,
    run: (c, a: Args4<typeof OP.BIND_CONN_TO_SESSION>, w) => {
      const s = session(c, a.sessid);
      s.client.lastRenew = Date.now();
      w.fixed(s.id).uint(CDFS4.FORE).bool(false);
    },
  },
  [OP.BACKCHANNEL_CTL]: { only: 1, run: () => undefined },
  [OP.TEST_STATEID]: {
    only: 1,
    run: (c, sids: Args4<typeof OP.TEST_STATEID>, w) => {
      w.array(sids, (x, sid) => {
        let status: number = NFS4.OK;
        try {
          if (isAnonymous(sid) || isBypass(sid)) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'special stateid');
          const st = c.s.state.find(sid, c.minor);
          if (st.client !== c.session?.client) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'of another client');
        } catch (err) {
          status = nfs4Status(err);
        }
        x.uint(status);
      });
    },
  },
  [OP.FREE_STATEID]: {
    only: 1,
    run: async (c, sid: Args4<typeof OP.FREE_STATEID>) => {
      const st = c.s.state.find(sid, c.minor);
      if (st.kind === 'open' || st.ranges.length) throw new Nfs4Error(NFS4.ERR_LOCKS_HELD, 'the stateid holds an open or locks');
      await c.s.state.dropLock(st);
    },
  },
};
void writeStateid;
