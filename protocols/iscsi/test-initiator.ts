/**
 * A minimal iSCSI initiator for the transport's tests (not used by the server): PDUs built with
 * wire/pdu.ts over a real socket, login with None or CHAP (and mutual CHAP), SCSI commands with
 * immediate data, unsolicited Data-Out and R2T-driven Data-Out, Data-In reassembly.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  decodeSenseSegment, decodeTargetPdu, encodeLun, encodePdu, NO_DIGESTS, Op, PduFramer, RESERVED_TAG, type DataIn, type Digests,
  type InitiatorPdu, type LoginResponse, type ScsiResponse, type TargetPdu,
} from './wire/pdu.js';
import { chapResponse, encodeText, formatHex, parseBinary, parseText, type Pair } from './wire/text.js';

export interface LoginOptions {
  initiatorName?: string;
  targetName?: string;
  discovery?: boolean;
  chap?: { user: string; secret: string };
  /** Mutual CHAP: the credentials the target must prove. */
  mutual?: { user: string; secret: string };
  /** Operational keys offered (defaults: a libiscsi-like set). */
  keys?: Pair[];
  isid?: Buffer;
}

export interface LoginResult {
  status: number;
  tsih: number;
  keys: Map<string, string>;
  responses: LoginResponse[];
}

export interface ScsiOutcome {
  status: number;
  response: number;
  data: Buffer;
  sense: Buffer;
  residual: { overflow: boolean; underflow: boolean; count: number };
  dataIns: DataIn[];
  r2ts: number;
  final: TargetPdu;
}

export const DEFAULT_KEYS: Pair[] = [
  ['HeaderDigest', 'None'], ['DataDigest', 'None'], ['InitialR2T', 'No'], ['ImmediateData', 'Yes'], ['MaxBurstLength', '262144'],
  ['FirstBurstLength', '65536'], ['DefaultTime2Wait', '2'], ['DefaultTime2Retain', '0'], ['MaxOutstandingR2T', '1'],
  ['ErrorRecoveryLevel', '0'], ['MaxConnections', '1'], ['MaxRecvDataSegmentLength', '8192'], ['DataPDUInOrder', 'Yes'],
  ['DataSequenceInOrder', 'Yes'],
];

export class TestInitiator {
  readonly framer = new PduFramer({ maxRecvDataSegmentLength: 1 << 20 });
  private queue: TargetPdu[] = [];
  private waiters: Array<(p: TargetPdu | null) => void> = [];
  closed = false;
  readonly closedP: Promise<void>;
  digests: Digests = NO_DIGESTS;
  cmdSN = 1;
  expStatSN = 0;
  itt = 1;
  isid: Buffer = Buffer.from([0x80, 0, 0, 0, 0, 1]);
  /** Negotiated (from the login response): what we may send per PDU and per burst. */
  params = { maxRecvDataSegmentLength: 8192, firstBurstLength: 65536, maxBurstLength: 262144, initialR2T: true, immediateData: true };
  /** Our MaxRecvDataSegmentLength as offered (what the target must respect). */
  ourMaxRecv = 8192;

  private constructor(readonly sock: Socket) {
    this.closedP = new Promise((r) => sock.once('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
      r();
    }));
    sock.on('error', () => {});
    sock.on('data', (b: Buffer) => {
      this.framer.push(b);
      for (let f = this.framer.next(); f; f = this.framer.next()) {
        const p = decodeTargetPdu(f);
        const w = this.waiters.shift();
        if (w) w(p);
        else this.queue.push(p);
      }
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<TestInitiator> {
    const sock = connect(port, host);
    await new Promise<void>((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    sock.setNoDelay(true);
    return new TestInitiator(sock);
  }

  send(p: InitiatorPdu): void {
    this.sock.write(encodePdu(p, this.digests));
  }

  raw(b: Buffer): void {
    this.sock.write(b);
  }

  /** The next PDU from the target, or null once the connection closed. Throws after `ms`. */
  recv(ms = 3000): Promise<TargetPdu | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no PDU within ${ms} ms`));
      }, ms);
      const w = (p: TargetPdu | null): void => {
        clearTimeout(t);
        if (p && 'statSN' in p && p.op !== Op.SCSI_DATA_IN && p.op !== Op.R2T) this.expStatSN = (p.statSN + 1) >>> 0;
        resolve(p);
      };
      this.waiters.push(w);
    });
  }

  /** Resolves true if nothing arrives within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    try {
      const p = await this.recv(ms);
      if (p) this.queue.unshift(p);
      return p === null;
    } catch {
      return true;
    }
  }

  private loginPdu(csg: number, nsg: number, transit: boolean, pairs: Pair[], tsih = 0): InitiatorPdu {
    return { op: Op.LOGIN_REQUEST, immediate: true, transit, cont: false, csg, nsg, versionMax: 0, versionMin: 0, isid: this.isid, tsih,
      itt: 0x1000, cid: 0, cmdSN: this.cmdSN, expStatSN: this.expStatSN, ahs: [], data: encodeText(pairs) };
  }

  private async loginStep(csg: number, nsg: number, transit: boolean, pairs: Pair[], out: LoginResult): Promise<LoginResponse> {
    this.send(this.loginPdu(csg, nsg, transit, pairs));
    const r = await this.recv();
    if (!r || r.op !== Op.LOGIN_RESPONSE) throw new Error(`expected a Login Response, got ${r ? r.op : 'close'}`);
    out.responses.push(r);
    out.status = r.status;
    out.tsih = r.tsih;
    this.expStatSN = (r.statSN + 1) >>> 0;
    for (const [k, v] of parseText(r.data)) out.keys.set(k, v);
    return r;
  }

  /** Logs in; returns the status of the last response (0 on success). */
  async login(o: LoginOptions = {}): Promise<LoginResult> {
    if (o.isid) this.isid = o.isid;
    const out: LoginResult = { status: 0, tsih: 0, keys: new Map(), responses: [] };
    const first: Pair[] = [['InitiatorName', o.initiatorName ?? 'iqn.2026-11.test:init']];
    if (o.discovery) first.push(['SessionType', 'Discovery']);
    else {
      first.push(['TargetName', o.targetName ?? 'iqn.2026-11.test:target']);
      first.push(['SessionType', 'Normal']);
    }
    const keys = o.keys ?? DEFAULT_KEYS;
    for (const [k, v] of keys) if (k === 'MaxRecvDataSegmentLength') this.ourMaxRecv = Number(v);
    if (o.chap) {
      let r = await this.loginStep(0, 1, true, [...first, ['AuthMethod', 'CHAP,None']], out);
      if (r.status) return out;
      r = await this.loginStep(0, 1, false, [['CHAP_A', '5']], out);
      if (r.status) return out;
      const id = Number(out.keys.get('CHAP_I'));
      const challenge = parseBinary(out.keys.get('CHAP_C')!);
      const resp: Pair[] = [['CHAP_N', o.chap.user], ['CHAP_R', formatHex(chapResponse(id, o.chap.secret, challenge))]];
      const myChallenge = randomBytes(16);
      const myId = 7;
      if (o.mutual) resp.push(['CHAP_I', String(myId)], ['CHAP_C', formatHex(myChallenge)]);
      r = await this.loginStep(0, 1, true, resp, out);
      if (r.status) return out;
      if (o.mutual) {
        const want = chapResponse(myId, o.mutual.secret, myChallenge);
        const got = out.keys.get('CHAP_R');
        if (out.keys.get('CHAP_N') !== o.mutual.user || !got || !parseBinary(got).equals(want)) throw new Error('target failed mutual CHAP');
      }
      if (!r.transit) throw new Error('target did not transit after CHAP');
      r = await this.loginStep(1, 3, true, keys, out);
      if (r.status) return out;
      this.applyKeys(out.keys);
      return out;
    }
    const r = await this.loginStep(1, 3, true, [...first, ...keys], out);
    if (r.status === 0) {
      if (!r.transit) throw new Error('no transit on the final login response');
      this.applyKeys(out.keys);
    }
    return out;
  }

  private applyKeys(k: Map<string, string>): void {
    const num = (key: string, d: number): number => (k.has(key) ? Number(k.get(key)) : d);
    this.params = {
      maxRecvDataSegmentLength: num('MaxRecvDataSegmentLength', 8192), firstBurstLength: num('FirstBurstLength', 65536),
      maxBurstLength: num('MaxBurstLength', 262144), initialR2T: k.get('InitialR2T') !== 'No', immediateData: k.get('ImmediateData') !== 'No',
    };
    this.digests = { header: k.get('HeaderDigest') === 'CRC32C', data: k.get('DataDigest') === 'CRC32C' };
    this.framer.setOptions({ digests: this.digests });
  }

  nextItt(): number {
    return this.itt++;
  }

  /**
   * Runs one SCSI command: sends immediate data / unsolicited Data-Out as negotiated, answers
   * R2Ts, gathers Data-In. `write` data goes with the W bit, `read` bytes are the allocation.
   */
  async scsi(cdb: Buffer, o: { lun?: number; read?: number; write?: Buffer; attr?: number; immediate?: boolean; itt?: number } = {}): Promise<ScsiOutcome> {
    const itt = o.itt ?? this.nextItt();
    const w = o.write ?? Buffer.alloc(0);
    const edtl = o.write ? w.length : (o.read ?? 0);
    const lun = encodeLun(o.lun ?? 0);
    const imm = this.params.immediateData ? w.subarray(0, Math.min(this.params.firstBurstLength, this.params.maxRecvDataSegmentLength)) : Buffer.alloc(0);
    const unsolicited = !this.params.initialR2T ? Math.min(this.params.firstBurstLength, w.length) : imm.length;
    const cdb16 = Buffer.alloc(16);
    cdb.copy(cdb16);
    this.send({ op: Op.SCSI_COMMAND, immediate: o.immediate ?? false, final: unsolicited <= imm.length, read: (o.read ?? 0) > 0,
      write: !!o.write, attr: o.attr ?? 1, lun, itt, expectedDataTransferLength: edtl, cmdSN: this.cmdSN, expStatSN: this.expStatSN, cdb: cdb16,
      ahs: [], data: imm });
    if (!o.immediate) this.cmdSN = (this.cmdSN + 1) >>> 0;
    let sent = imm.length;
    let dataSN = 0;
    while (sent < unsolicited) {
      const n = Math.min(this.params.maxRecvDataSegmentLength, unsolicited - sent);
      this.send({ op: Op.SCSI_DATA_OUT, final: sent + n === unsolicited, lun, itt, ttt: RESERVED_TAG, expStatSN: this.expStatSN, dataSN: dataSN++,
        bufferOffset: sent, ahs: [], data: w.subarray(sent, sent + n) });
      sent += n;
    }
    const dataIns: DataIn[] = [];
    const chunks: Buffer[] = [];
    let r2ts = 0;
    for (;;) {
      const p = await this.recv(10_000);
      if (!p) throw new Error('connection closed during a command');
      if (p.op === Op.R2T && p.itt === itt) {
        r2ts++;
        let off = p.bufferOffset;
        const end = p.bufferOffset + p.desiredDataTransferLength;
        let sn = 0;
        while (off < end) {
          const n = Math.min(this.params.maxRecvDataSegmentLength, end - off);
          this.send({ op: Op.SCSI_DATA_OUT, final: off + n === end, lun, itt, ttt: p.ttt, expStatSN: this.expStatSN, dataSN: sn++, bufferOffset: off,
            ahs: [], data: w.subarray(off, off + n) });
          off += n;
        }
        continue;
      }
      if (p.op === Op.SCSI_DATA_IN && p.itt === itt) {
        dataIns.push(p);
        chunks.push(p.data);
        if (p.statusPresent) {
          this.expStatSN = (p.statSN + 1) >>> 0;
          return { status: p.status, response: 0, data: Buffer.concat(chunks), sense: Buffer.alloc(0), dataIns, r2ts, final: p,
            residual: { overflow: p.overflow, underflow: p.underflow, count: p.residualCount } };
        }
        continue;
      }
      if (p.op === Op.SCSI_RESPONSE && p.itt === itt) {
        const r = p as ScsiResponse;
        return { status: r.status, response: r.response, data: Buffer.concat(chunks), sense: r.data.length ? decodeSenseSegment(r.data).sense : Buffer.alloc(0),
          dataIns, r2ts, final: p, residual: { overflow: r.overflow, underflow: r.underflow, count: r.residualCount } };
      }
      throw new Error(`unexpected PDU 0x${p.op.toString(16)} (itt ${'itt' in p ? p.itt : '-'}) during command ${itt}`);
    }
  }

  async logout(): Promise<TargetPdu | null> {
    this.send({ op: Op.LOGOUT_REQUEST, immediate: true, reason: 0, itt: this.nextItt(), cid: 0, cmdSN: this.cmdSN, expStatSN: this.expStatSN, ahs: [],
      data: Buffer.alloc(0) });
    return this.recv();
  }

  close(): void {
    this.sock.destroy();
  }
}
