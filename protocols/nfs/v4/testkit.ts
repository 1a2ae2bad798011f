/**
 * A small in-process NFSv4 caller for the unit tests: builds a dispatcher with NFS v3 + v4 over
 * a VFS, sends COMPOUNDs through `answer()` (session.ts) as encoded RPC records, and decodes the
 * COMPOUND4res. Not used by the server.
 */
import assert from 'node:assert/strict';
import type { Vfs } from '../../../vfs/types.js';
import { ExportTable, type Export } from '../exports.js';
import { Nfs3Service } from '../nfs3.js';
import { answer, type Programs } from '../session.js';
import { NFS_PROG } from '../wire/nfs3.js';
import { decodeCompoundRes, type CompoundRes } from '../wire/nfs4-res.js';
import { encodeCompound, NFS4, NFS4_VERSION, NFSPROC4_COMPOUND, OP, op, type Op4 } from '../wire/nfs4.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall, type OpaqueAuth } from '../wire/rpc.js';
import { Nfs4Service, type Nfs4Options } from './service.js';

export const sysCred = (uid: number, gid: number): OpaqueAuth => ({ flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'test', uid, gid, gids: [] }) });
export const ROOT_CRED = sysCred(0, 0);

export class V4Harness {
  readonly programs: Programs;
  readonly v4: Nfs4Service;
  readonly v3: Nfs3Service;
  private xid = 1;

  static async open(vfs: Vfs, opts: Partial<Nfs4Options> & { exportList?: Export[] } = {}): Promise<V4Harness> {
    const exports = opts.exportList ? new ExportTable(opts.exportList) : ExportTable.open(1);
    await exports.init(vfs);
    return new V4Harness(vfs, exports, opts);
  }

  private constructor(vfs: Vfs, exports: ExportTable, opts: Partial<Nfs4Options>) {
    this.v3 = new Nfs3Service(vfs, { exportId: 1, exports, idleMs: 50 });
    this.v4 = new Nfs4Service(vfs, { ...opts, exports });
    const p = this.v3.program();
    p.versions.set(NFS4_VERSION, this.v4.procedures());
    this.programs = new Map([[NFS_PROG, p]]);
  }

  /** The raw RPC reply of an encoded COMPOUND4args. */
  async raw(args: Uint8Array, cred = ROOT_CRED, peer = '127.0.0.1:700') {
    const xid = this.xid++;
    const out = await answer(this.programs, encodeCall({ xid, prog: NFS_PROG, vers: NFS4_VERSION, proc: NFSPROC4_COMPOUND, cred }, args), peer);
    assert.ok(out, 'a reply');
    return decodeReply(out);
  }

  /** Sends a COMPOUND; its decoded results. */
  async compound(ops: Op4[], opts: { minor?: number; cred?: OpaqueAuth; tag?: string; peer?: string } = {}): Promise<CompoundRes> {
    const rep = await this.raw(encodeCompound(opts.tag ?? 't', opts.minor ?? 0, ops), opts.cred, opts.peer);
    assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS, 'COMPOUND accepted');
    const res = decodeCompoundRes(rep.results);
    rep.results.end('COMPOUND4res');
    return res;
  }

  /** Sends a COMPOUND that must succeed; the result bodies. */
  async ok(ops: Op4[], opts: { minor?: number; cred?: OpaqueAuth } = {}): Promise<any[]> {
    const r = await this.compound(ops, opts);
    assert.equal(r.status, NFS4.OK, `COMPOUND failed: ${JSON.stringify(r.results.map((x) => [x.op, x.status]))}`);
    return r.results.map((x) => x.res);
  }

  /** SETCLIENTID + SETCLIENTID_CONFIRM (4.0): the clientid. */
  async client40(id = 'client-a', verifier = Buffer.from('verifier')): Promise<bigint> {
    const [sc] = await this.ok([op(OP.SETCLIENTID, { client: { verifier, id: Buffer.from(id) }, callback: { cb_program: 0, cb_location: { na_r_netid: 'tcp', na_r_addr: '127.0.0.1.0.0' } }, callback_ident: 0 })]);
    await this.ok([op(OP.SETCLIENTID_CONFIRM, { clientid: sc.clientid, setclientid_confirm: sc.confirm })]);
    return sc.clientid as bigint;
  }

  close(): Promise<void> {
    return Promise.all([this.v3.close(), this.v4.close()]).then(() => undefined);
  }
}
