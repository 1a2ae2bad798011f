/**
 * COMPOUND4res decoding (RFC 7530 §16.2, RFC 8881 §16.2) for clients and tests: the reply's
 * status and tag, and each operation's status and decoded result body (table `OP_RES`, keyed
 * by opcode; bodies of failed operations only where the RFC gives them one). Sans-IO.
 */
import { fattr4, nfs_fh4, NFS4, OP, sessionid4, stateid4, verifier4, channel_attrs4, linktext4, bitmap4, type Fattr4, type Stateid4 } from './nfs4.js';
import { arrayOf, bool, opaque, str, struct, u32, u64, type Codec } from './nfs4-xdr.js';
import { nfstime4 } from './nfs4.js';
import { XdrError, XdrReader } from './xdr.js';

const change_info4 = struct({ atomic: bool, before: u64, after: u64 });
const lock4denied = struct({ offset: u64, length: u64, locktype: u32, owner: struct({ clientid: u64, owner: opaque(1024) }) });

export interface DirEntry4 {
  cookie: bigint;
  name: string;
  attrs: Fattr4;
}
const dirlist4: Codec<{ entries: DirEntry4[]; eof: boolean }> = {
  dec: (r) => {
    const entries: DirEntry4[] = [];
    while (r.bool('entry follows')) {
      if (entries.length >= 100_000) throw new XdrError('too many entries');
      entries.push({ cookie: r.uhyper(), name: r.string(1024), attrs: fattr4.dec(r) });
    }
    return { entries, eof: r.bool('eof') };
  },
  enc: () => { throw new Error('not needed'); },
};
const secinfo: Codec<number[]> = {
  dec: (r) => r.array(16, (x) => {
    const f = x.uint();
    if (f === 6) throw new XdrError('RPCSEC_GSS entries are not decoded');
    return f;
  }),
  enc: () => { throw new Error('not needed'); },
};
const openDelegation: Codec<number> = {
  dec: (r) => {
    const t = r.uint('open_delegation_type4');
    if (t !== 0) throw new XdrError(`delegation type ${t} not decoded`);
    return t;
  },
  enc: () => { throw new Error('not needed'); },
};

/** Result bodies: `ok` after NFS4_OK, `err` after the listed error statuses. */
export const OP_RES: Partial<Record<number, { ok?: Codec<any>; err?: Partial<Record<number, Codec<any>>> }>> = {
  [OP.ACCESS]: { ok: struct({ supported: u32, access: u32 }) },
  [OP.CLOSE]: { ok: stateid4 },
  [OP.COMMIT]: { ok: verifier4 },
  [OP.CREATE]: { ok: struct({ cinfo: change_info4, attrset: bitmap4 }) },
  [OP.GETATTR]: { ok: fattr4 },
  [OP.GETFH]: { ok: nfs_fh4 },
  [OP.LINK]: { ok: change_info4 },
  [OP.LOCK]: { ok: stateid4, err: { [NFS4.ERR_DENIED]: lock4denied } },
  [OP.LOCKT]: { err: { [NFS4.ERR_DENIED]: lock4denied } },
  [OP.LOCKU]: { ok: stateid4 },
  [OP.OPEN]: { ok: struct({ stateid: stateid4, cinfo: change_info4, rflags: u32, attrset: bitmap4, delegation: openDelegation }) },
  [OP.OPEN_CONFIRM]: { ok: stateid4 },
  [OP.OPEN_DOWNGRADE]: { ok: stateid4 },
  [OP.READ]: { ok: struct({ eof: bool, data: opaque(1 << 21) }) },
  [OP.READDIR]: { ok: struct({ cookieverf: verifier4, reply: dirlist4 }) },
  [OP.READLINK]: { ok: linktext4 },
  [OP.REMOVE]: { ok: change_info4 },
  [OP.RENAME]: { ok: struct({ source: change_info4, target: change_info4 }) },
  [OP.SECINFO]: { ok: secinfo },
  [OP.SECINFO_NO_NAME]: { ok: secinfo },
  [OP.SETCLIENTID]: { ok: struct({ clientid: u64, confirm: verifier4 }), err: { [NFS4.ERR_CLID_INUSE]: struct({ netid: str(1024), addr: str(1024) }) } },
  [OP.WRITE]: { ok: struct({ count: u32, committed: u32, verf: verifier4 }) },
  [OP.EXCHANGE_ID]: {
    ok: struct({
      clientid: u64, sequenceid: u32, flags: u32, state_protect: u32, so_minor_id: u64, so_major_id: opaque(1024), scope: opaque(1024),
      impl: arrayOf(1, struct({ domain: str(1024), name: str(1024), date: nfstime4 })),
    }),
  },
  [OP.CREATE_SESSION]: { ok: struct({ sessionid: sessionid4, sequence: u32, flags: u32, fore: channel_attrs4, back: channel_attrs4 }) },
  [OP.SEQUENCE]: { ok: struct({ sessionid: sessionid4, sequenceid: u32, slotid: u32, highest_slotid: u32, target_highest_slotid: u32, status_flags: u32 }) },
  [OP.BIND_CONN_TO_SESSION]: { ok: struct({ sessid: sessionid4, dir: u32, rdma: bool }) },
  [OP.TEST_STATEID]: { ok: arrayOf(1024, u32) },
};

export interface OpResult {
  op: number;
  status: number;
  /** The decoded body (undefined for none). */
  res?: any;
}
export interface CompoundRes {
  status: number;
  tag: Buffer;
  results: OpResult[];
}

/** Decodes a COMPOUND4res; throws XdrError when it is malformed. SETATTR always has its attrsset. */
export function decodeCompoundRes(r: XdrReader): CompoundRes {
  const status = r.uint('status');
  const tag = Buffer.from(r.opaque(1024, 'tag'));
  const results = r.array(1024, (x) => {
    const op = x.uint('resop');
    const st = x.uint('status');
    let res: unknown;
    if (op === OP.SETATTR) res = bitmap4.dec(x);
    else {
      const d = OP_RES[op];
      const c = st === NFS4.OK ? d?.ok : d?.err?.[st];
      if (c) res = c.dec(x);
    }
    return { op, status: st, res };
  }, 'resarray');
  return { status, tag, results };
}

export type { Stateid4 };
export { XdrReader };
