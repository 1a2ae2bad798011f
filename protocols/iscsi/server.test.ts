/**
 * The transport driven over a real socket by test-initiator.ts: login (None, CHAP, mutual CHAP,
 * refusals), discovery, full feature phase (R2T flow, Data-In splitting, digests, NOP, ABORT
 * TASK, CmdSN window, bad PDUs), and a fuzz of random bytes at a connection.
 *
 * The device layer here is a small test double over a Buffer (READ 10 / WRITE 10 / INQUIRY /
 * REPORT LUNS / TEST UNIT READY and a command that blocks until aborted), so these tests see
 * only what the transport does; the real SCSI layer is exercised in scsi/ and the e2e tests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { LogicalUnit, Nexus, ScsiResult, ScsiTask, TargetDevices } from './device.js';
import type { BlockVolume } from '../../vfs/types.js';
import { startIscsiServer, type IscsiServer } from './server.js';
import { staticCatalog, type TargetConfig } from './targets.js';
import { DEFAULT_KEYS, TestInitiator } from './test-initiator.js';
import { encodeLun, encodePdu, LoginStatus, Op, RESERVED_TAG, TmfFunction, TmfResponse, type TargetPdu } from './wire/pdu.js';
import { encodeText, parseText, type Pair } from './wire/text.js';

const BLOCK = 512;
const BLOCKS = 8192; // 4 MiB

class FakeLu implements LogicalUnit {
  readonly data = Buffer.alloc(BLOCK * BLOCKS);
  added: string[] = [];
  removed: string[] = [];
  resets = 0;
  executed = 0;
  readonly volume = { sizeBytes: BLOCK * BLOCKS } as unknown as BlockVolume;
  async execute(t: ScsiTask): Promise<ScsiResult> {
    this.executed++;
    const c = t.cdb;
    switch (c[0]) {
      case 0x00: return { status: 0 };
      case 0x12: {
        const d = Buffer.alloc(36);
        d[4] = 31;
        d.write('DW      FAKE            0001', 8, 'latin1');
        return { status: 0, dataIn: d };
      }
      case 0x28: case 0x2a: {
        const lba = c.readUInt32BE(2);
        const n = c.readUInt16BE(7) * BLOCK;
        if (lba * BLOCK + n > this.data.length) return { status: 2, sense: sense(0x05, 0x21) };
        if (c[0] === 0x28) return { status: 0, dataIn: Buffer.from(this.data.subarray(lba * BLOCK, lba * BLOCK + n)) };
        if (!t.dataOut || t.dataOut.length !== n) return { status: 2, sense: sense(0x05, 0x24) };
        t.dataOut.copy(this.data, lba * BLOCK);
        return { status: 0 };
      }
      case 0xc3: // a device-layer bug: sense too long for any SCSI Response
        return { status: 2, sense: Buffer.alloc(70_000) };
      case 0xc0: // blocks until aborted
        await new Promise<void>((r) => t.signal?.addEventListener('abort', () => r(), { once: true }));
        return { status: 0 };
      default:
        return { status: 2, sense: sense(0x05, 0x20) };
    }
  }
  nexusAdded(n: Nexus): void { this.added.push(n.initiatorPort); }
  nexusRemoved(n: Nexus): void { this.removed.push(n.initiatorPort); }
  reset(): void { this.resets++; }
  capacityChanged(): void {}
}

function sense(key: number, asc: number): Buffer {
  const b = Buffer.alloc(18);
  b[0] = 0x70;
  b[2] = key;
  b[7] = 10;
  b[12] = asc;
  return b;
}

class FakeDevices implements TargetDevices {
  constructor(readonly lu0: FakeLu) {}
  luns(): number[] { return [0]; }
  lu(n: number): LogicalUnit | undefined { return n === 0 ? this.lu0 : undefined; }
  execute(t: ScsiTask): Promise<ScsiResult> {
    if (t.lun === 0) return this.lu0.execute(t);
    return Promise.resolve({ status: 2, sense: sense(0x05, 0x25) });
  }
}

const T1 = 'iqn.2026-11.test:target';
const T2 = 'iqn.2026-11.test:chap';
const T3 = 'iqn.2026-11.test:acl';
const T4 = 'iqn.2026-11.test:mutual';
const CHAP = { user: 'alice', secret: 'twelve-chars-ok' };
const MUTUAL = { user: 'target', secret: 'another-secret-1' };
const targets: TargetConfig[] = [
  { iqn: T1, luns: [{ lun: 0, volume: 'v1' }], initiators: [] },
  { iqn: T2, luns: [{ lun: 0, volume: 'v2' }], initiators: [], chap: CHAP },
  { iqn: T3, luns: [{ lun: 0, volume: 'v3' }], initiators: ['iqn.2026-11.test:allowed'] },
  { iqn: T4, luns: [{ lun: 0, volume: 'v4' }], initiators: [], chap: CHAP, mutualChap: MUTUAL },
];

let srv: IscsiServer;
const lus = new Map<string, FakeLu>();
/** The server's log lines at warn level and above (an internal error would show here). */
const problems: string[] = [];
const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, cb) { problems.push(String(chunk)); cb(); } }));
let opened = 0;
let closedTargets = 0;

before(async () => {
  srv = await startIscsiServer({
    host: '127.0.0.1', port: 0, catalog: staticCatalog(targets), queueDepth: 8, logger,
    policy: { maxRecvDataSegmentLength: 65536, maxBurstLength: 16384, firstBurstLength: 8192 },
    openTarget: async (t) => {
      opened++;
      const lu = new FakeLu();
      lus.set(t.iqn, lu);
      return { devices: new FakeDevices(lu), close: async () => { closedTargets++; } };
    },
  });
});
after(async () => {
  await srv.close();
  assert.equal(closedTargets, opened, 'every opened target is closed at the end');
  assert.deepEqual(problems, [], 'no warnings or internal errors logged');
});

async function loggedIn(target = T1, keys: Pair[] = DEFAULT_KEYS): Promise<TestInitiator> {
  const c = await TestInitiator.connect(srv.port);
  const r = await c.login({ targetName: target, keys });
  assert.equal(r.status, 0, `login status 0x${r.status.toString(16)}`);
  return c;
}

const read10 = (lba: number, blocks: number): Buffer => {
  const c = Buffer.alloc(10);
  c[0] = 0x28;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
};
const write10 = (lba: number, blocks: number): Buffer => {
  const c = read10(lba, blocks);
  c[0] = 0x2a;
  return c;
};

describe('login', () => {
  it('AuthMethod None straight into full feature phase: TSIH, TargetPortalGroupTag, our MaxRecvDataSegmentLength', async () => {
    const c = await TestInitiator.connect(srv.port);
    const r = await c.login({ targetName: T1 });
    assert.equal(r.status, 0);
    assert.ok(r.tsih > 0);
    assert.equal(r.keys.get('TargetPortalGroupTag'), '1');
    assert.equal(r.keys.get('MaxRecvDataSegmentLength'), '65536');
    assert.equal(r.keys.get('MaxBurstLength'), '16384');
    assert.equal(r.keys.get('InitialR2T'), 'No');
    assert.equal(r.keys.get('ErrorRecoveryLevel'), '0');
    const inq = await c.scsi(Buffer.from([0x12, 0, 0, 0, 36, 0]), { read: 36 });
    assert.equal(inq.status, 0);
    assert.match(inq.data.toString('latin1', 8, 16), /DW/);
    const lo = await c.logout();
    assert.equal(lo?.op, Op.LOGOUT_RESPONSE);
    await c.closedP;
    assert.ok(lus.get(T1)!.added.length >= 1);
  });

  it('unknown target: status 0x0203, connection closed', async () => {
    const c = await TestInitiator.connect(srv.port);
    const r = await c.login({ targetName: 'iqn.2026-11.test:nothing' });
    assert.equal(r.status, LoginStatus.NOT_FOUND);
    await c.closedP;
  });

  it('initiator not in the ACL: authorization failure 0x0202; allowed one logs in', async () => {
    const c = await TestInitiator.connect(srv.port);
    const r = await c.login({ targetName: T3 });
    assert.equal(r.status, LoginStatus.AUTHORIZATION_FAILURE);
    await c.closedP;
    const d = await TestInitiator.connect(srv.port);
    assert.equal((await d.login({ targetName: T3, initiatorName: 'iqn.2026-11.test:allowed' })).status, 0);
    d.close();
  });

  it('missing InitiatorName / TargetName: 0x0207; bad version: 0x0205', async () => {
    const c = await TestInitiator.connect(srv.port);
    c.send({ op: Op.LOGIN_REQUEST, immediate: true, transit: true, cont: false, csg: 1, nsg: 3, versionMax: 0, versionMin: 0, isid: c.isid,
      tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, ahs: [], data: encodeText([['SessionType', 'Normal'], ['TargetName', T1]]) });
    const r = await c.recv();
    assert.equal(r?.op, Op.LOGIN_RESPONSE);
    assert.equal((r as { status: number }).status, LoginStatus.MISSING_PARAMETER);
    await c.closedP;
    const d = await TestInitiator.connect(srv.port);
    d.send({ op: Op.LOGIN_REQUEST, immediate: true, transit: true, cont: false, csg: 1, nsg: 3, versionMax: 2, versionMin: 1, isid: d.isid,
      tsih: 0, itt: 1, cid: 0, cmdSN: 1, expStatSN: 0, ahs: [], data: encodeText([['InitiatorName', 'iqn.2026-11.x:y'], ['TargetName', T1]]) });
    assert.equal(((await d.recv()) as { status: number }).status, LoginStatus.UNSUPPORTED_VERSION);
    await d.closedP;
  });

  it('CHAP: the right secret logs in, a wrong one or a wrong user gets 0x0201, skipping security gets 0x0201', async () => {
    const ok = await TestInitiator.connect(srv.port);
    const r = await ok.login({ targetName: T2, chap: CHAP });
    assert.equal(r.status, 0);
    assert.equal(r.keys.get('AuthMethod'), 'CHAP');
    assert.equal(r.keys.get('CHAP_A'), '5');
    assert.equal((await ok.scsi(Buffer.from([0, 0, 0, 0, 0, 0]))).status, 0);
    ok.close();
    for (const bad of [{ user: CHAP.user, secret: 'wrong-secret-123' }, { user: 'bob', secret: CHAP.secret }]) {
      const c = await TestInitiator.connect(srv.port);
      const x = await c.login({ targetName: T2, chap: bad });
      assert.equal(x.status, LoginStatus.AUTHENTICATION_FAILURE);
      await c.closedP;
    }
    const none = await TestInitiator.connect(srv.port);
    assert.equal((await none.login({ targetName: T2 })).status, LoginStatus.AUTHENTICATION_FAILURE);
    await none.closedP;
  });

  it('mutual CHAP: the target proves the mutual secret; asking it of a target without one fails', async () => {
    const c = await TestInitiator.connect(srv.port);
    const r = await c.login({ targetName: T4, chap: CHAP, mutual: MUTUAL });
    assert.equal(r.status, 0);
    assert.equal(r.keys.get('CHAP_N'), MUTUAL.user);
    c.close();
    const d = await TestInitiator.connect(srv.port);
    const x = await d.login({ targetName: T2, chap: CHAP, mutual: MUTUAL });
    assert.equal(x.status, LoginStatus.AUTHENTICATION_FAILURE);
    await d.closedP;
  });

  it('session reinstatement: same initiator and ISID closes the old connection', async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    await a.closedP;
    assert.equal((await b.scsi(Buffer.alloc(6))).status, 0);
    b.close();
  });

  it('digests: CRC32C on header and data after the final login response', async () => {
    const keys = DEFAULT_KEYS.map(([k, v]): Pair => (k === 'HeaderDigest' || k === 'DataDigest' ? [k, 'CRC32C,None'] : [k, v]));
    const c = await loggedIn(T1, keys);
    assert.deepEqual(c.digests, { header: true, data: true });
    const data = Buffer.alloc(BLOCK * 40, 0x5a);
    assert.equal((await c.scsi(write10(100, 40), { write: data })).status, 0);
    const r = await c.scsi(read10(100, 40), { read: data.length });
    assert.equal(r.status, 0);
    assert.ok(r.data.equals(data));
    // A corrupted header digest drops the connection (RFC 7143 section 7.8).
    const bad = encodePdu({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 99, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: 0, ahs: [], data: Buffer.alloc(0) }, c.digests);
    bad[49] = bad[49]! ^ 0xff;
    c.raw(bad);
    await c.closedP;
  });
});

describe('discovery', () => {
  it('SendTargets=All lists the targets this initiator may see, with the listen address', async () => {
    const c = await TestInitiator.connect(srv.port);
    assert.equal((await c.login({ discovery: true })).status, 0);
    c.send({ op: Op.TEXT_REQUEST, immediate: false, final: true, cont: false, lun: 0n, itt: 5, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: c.expStatSN,
      ahs: [], data: encodeText([['SendTargets', 'All']]) });
    c.cmdSN++;
    const r = await c.recv();
    assert.equal(r?.op, Op.TEXT_RESPONSE);
    const pairs = parseText(r!.data);
    const names = pairs.filter(([k]) => k === 'TargetName').map(([, v]) => v);
    assert.deepEqual(names, [T2, T4, T1].sort(), 'the ACL of T3 hides it from this initiator');
    assert.ok(pairs.some(([k, v]) => k === 'TargetAddress' && v === `127.0.0.1:${srv.port},1`));
    // no SCSI in discovery
    c.send({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: false, attr: 1, lun: 0n, itt: 6, expectedDataTransferLength: 0,
      cmdSN: c.cmdSN, expStatSN: 0, cdb: Buffer.alloc(16), ahs: [], data: Buffer.alloc(0) });
    const rej = await c.recv();
    assert.equal(rej?.op, Op.REJECT);
    c.close();
  });
});

describe('full feature phase', () => {
  it('a 1 MiB write at 16 KiB bursts: unsolicited first burst then R2Ts; read back split at our MaxRecvDataSegmentLength', async () => {
    const c = await loggedIn();
    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
    const w = await c.scsi(write10(16, 2048), { write: data });
    assert.equal(w.status, 0);
    assert.equal(w.r2ts, Math.ceil(((1 << 20) - 8192) / 16384));
    const r = await c.scsi(read10(16, 2048), { read: data.length });
    assert.equal(r.status, 0);
    assert.ok(r.data.equals(data));
    assert.equal(r.dataIns.length, (1 << 20) / 8192);
    assert.ok(r.dataIns.every((d, i) => d.dataSN === i && d.bufferOffset === i * 8192 && d.data.length === 8192));
    assert.ok(r.dataIns.at(-1)!.statusPresent);
    // one Data-In sequence per MaxBurstLength (16 KiB = 2 PDUs): F on every second PDU, S only on the last
    assert.ok(r.dataIns.every((d, i) => d.final === (i % 2 === 1)));
    assert.equal(r.dataIns.filter((d) => d.statusPresent).length, 1);
    c.close();
  });

  it('residual underflow when the allocation is larger than the data, CHECK CONDITION with sense otherwise', async () => {
    const c = await loggedIn();
    const r = await c.scsi(Buffer.from([0x12, 0, 0, 0, 255, 0]), { read: 255 });
    assert.equal(r.status, 0);
    assert.deepEqual(r.residual, { overflow: false, underflow: true, count: 255 - 36 });
    const s = await c.scsi(read10(BLOCKS, 1), { read: BLOCK });
    assert.equal(s.status, 2);
    assert.equal(s.sense[2], 0x05);
    assert.equal(s.sense[12], 0x21);
    c.close();
  });

  it('a result the transport cannot encode drops that connection only (no unhandled rejection); the server goes on', async () => {
    const c = await loggedIn();
    const cdb = Buffer.alloc(16);
    cdb[0] = 0xc3;
    c.send({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: false, attr: 1, lun: encodeLun(0), itt: 5,
      expectedDataTransferLength: 0, cmdSN: c.cmdSN, expStatSN: c.expStatSN, cdb, ahs: [], data: Buffer.alloc(0) });
    await c.closedP;
    const d = await loggedIn();
    assert.equal((await d.scsi(Buffer.from([0, 0, 0, 0, 0, 0]))).status, 0);
    d.close();
  });

  it('NOP-Out ping is echoed with its data', async () => {
    const c = await loggedIn();
    c.send({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 77, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [], data: Buffer.from('ping!') });
    const r = await c.recv();
    assert.equal(r?.op, Op.NOP_IN);
    assert.equal((r as { itt: number }).itt, 77);
    assert.equal(r!.data.toString(), 'ping!');
    c.close();
  });

  it('ABORT TASK: the aborted task gets no response, the TMF gets FUNCTION COMPLETE; unknown tag: TASK DOES NOT EXIST', async () => {
    const c = await loggedIn();
    const cdb = Buffer.alloc(16);
    cdb[0] = 0xc0;
    c.send({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: false, attr: 1, lun: encodeLun(0), itt: 500, expectedDataTransferLength: 0,
      cmdSN: c.cmdSN, expStatSN: c.expStatSN, cdb, ahs: [], data: Buffer.alloc(0) });
    const ref = c.cmdSN;
    c.cmdSN++;
    await new Promise((r) => setTimeout(r, 50));
    c.send({ op: Op.TASK_MGMT_REQUEST, immediate: true, func: TmfFunction.ABORT_TASK, lun: encodeLun(0), itt: 501, referencedTaskTag: 500, cmdSN: c.cmdSN,
      expStatSN: c.expStatSN, refCmdSN: ref, expDataSN: 0, ahs: [], data: Buffer.alloc(0) });
    const r = await c.recv();
    assert.equal(r?.op, Op.TASK_MGMT_RESPONSE);
    assert.equal((r as { response: number }).response, TmfResponse.FUNCTION_COMPLETE);
    c.send({ op: Op.TASK_MGMT_REQUEST, immediate: true, func: TmfFunction.ABORT_TASK, lun: encodeLun(0), itt: 502, referencedTaskTag: 999, cmdSN: c.cmdSN,
      expStatSN: c.expStatSN, refCmdSN: ref, expDataSN: 0, ahs: [], data: Buffer.alloc(0) });
    const r2 = await c.recv();
    assert.equal((r2 as { response: number }).response, TmfResponse.TASK_DOES_NOT_EXIST);
    assert.ok(await c.quiet(200), 'no response for the aborted task');
    c.send({ op: Op.TASK_MGMT_REQUEST, immediate: true, func: TmfFunction.CLEAR_ACA, lun: 0n, itt: 503, referencedTaskTag: RESERVED_TAG,
      cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN: 0, expDataSN: 0, ahs: [], data: Buffer.alloc(0) });
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.FUNCTION_NOT_SUPPORTED);
    // TARGET COLD RESET: a warm reset, its response, then every connection to the target closes.
    const other = await TestInitiator.connect(srv.port);
    assert.equal((await other.login({ targetName: T1, isid: Buffer.from([0x80, 0, 0, 0, 0, 9]) })).status, 0);
    const resets = lus.get(T1)!.resets;
    c.send({ op: Op.TASK_MGMT_REQUEST, immediate: true, func: TmfFunction.TARGET_COLD_RESET, lun: 0n, itt: 504, referencedTaskTag: RESERVED_TAG,
      cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN: 0, expDataSN: 0, ahs: [], data: Buffer.alloc(0) });
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.FUNCTION_COMPLETE);
    assert.equal(lus.get(T1)!.resets, resets + 1);
    await c.closedP;
    await other.closedP;
  });

  it('CmdSN window: MaxCmdSN = ExpCmdSN + depth - 1 when idle; out-of-window commands are ignored; a gap holds later commands', async () => {
    const c = await loggedIn();
    c.send({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 1, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [], data: Buffer.alloc(0) });
    const n = (await c.recv()) as TargetPdu & { expCmdSN: number; maxCmdSN: number };
    assert.equal(n.expCmdSN, c.cmdSN);
    assert.equal(n.maxCmdSN, c.cmdSN + 8 - 1);
    const tur = (itt: number, cmdSN: number): void => c.send({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: false, attr: 1,
      lun: 0n, itt, expectedDataTransferLength: 0, cmdSN, expStatSN: c.expStatSN, cdb: Buffer.alloc(16), ahs: [], data: Buffer.alloc(0) });
    tur(10, c.cmdSN + 20); // beyond MaxCmdSN: ignored
    tur(11, c.cmdSN - 1); // below ExpCmdSN: ignored
    tur(12, c.cmdSN + 1); // held until the gap fills
    assert.ok(await c.quiet(150));
    tur(13, c.cmdSN);
    const got = [await c.recv(), await c.recv()].map((p) => (p as { itt: number }).itt).sort();
    assert.deepEqual(got, [12, 13]);
    c.cmdSN += 2;
    assert.ok(await c.quiet(100));
    c.close();
  });

  it('bad PDUs get a Reject, not a crash: unknown opcode, SNACK, Data-Out for nobody is ignored', async () => {
    const c = await loggedIn();
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x1c;
    c.raw(bhs);
    const r = await c.recv();
    assert.equal(r?.op, Op.REJECT);
    assert.equal((r as { reason: number }).reason, 0x05);
    c.send({ op: Op.SNACK_REQUEST, type: 0, lun: 0n, itt: 3, ttt: RESERVED_TAG, expStatSN: 0, begRun: 0, runLength: 0, ahs: [], data: Buffer.alloc(0) });
    assert.equal((await c.recv())?.op, Op.REJECT);
    c.send({ op: Op.SCSI_DATA_OUT, final: true, lun: 0n, itt: 4242, ttt: 7, expStatSN: 0, dataSN: 0, bufferOffset: 0, ahs: [], data: Buffer.alloc(8) });
    assert.equal((await c.scsi(Buffer.alloc(6))).status, 0, 'still serving');
    c.close();
  });

  it('a Data-Out with a wrong DataSN: Reject, the task ends with ABORTED COMMAND / DATA PHASE ERROR, the connection stays', async () => {
    const c = await loggedIn(T1, DEFAULT_KEYS.map(([k, v]): Pair => (k === 'InitialR2T' ? [k, 'Yes'] : k === 'ImmediateData' ? [k, 'No'] : [k, v])));
    c.send({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: true, attr: 1, lun: 0n, itt: 9, expectedDataTransferLength: 4096,
      cmdSN: c.cmdSN, expStatSN: c.expStatSN, cdb: Buffer.concat([write10(0, 8), Buffer.alloc(6)]), ahs: [], data: Buffer.alloc(0) });
    const r2t = (await c.recv()) as TargetPdu & { ttt: number };
    assert.equal(r2t.op, Op.R2T);
    c.send({ op: Op.SCSI_DATA_OUT, final: true, lun: 0n, itt: 9, ttt: r2t.ttt, expStatSN: 0, dataSN: 5, bufferOffset: 0, ahs: [], data: Buffer.alloc(4096) });
    const rej = await c.recv();
    assert.equal(rej?.op, Op.REJECT);
    const res = await c.recv();
    assert.equal(res?.op, Op.SCSI_RESPONSE);
    assert.equal((res as { status: number }).status, 2);
    const sense = res!.data.subarray(2);
    assert.equal(sense[2]! & 0x0f, 0x0b);
    assert.equal(sense[12], 0x4b);
    c.cmdSN++;
    assert.equal((await c.scsi(Buffer.alloc(6))).status, 0, 'still serving');
    c.close();
  });

  it('logout and disconnect remove the nexus from the LU', async () => {
    const lu = lus.get(T1)!;
    const before = lu.removed.length;
    const c = await loggedIn();
    c.close();
    await c.closedP;
    for (let i = 0; i < 50 && lu.removed.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(lu.removed.length, before + 1);
  });
});

describe('fuzz', () => {
  it('random bytes at a fresh connection and after login never crash the server', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 6 }), async (afterLogin, chunks) => {
      const c = afterLogin ? await loggedIn() : await TestInitiator.connect(srv.port);
      for (const ch of chunks) c.raw(Buffer.from(ch));
      await new Promise((r) => setTimeout(r, 5));
      c.close();
    }), { numRuns: 60 });
    // mutated valid PDUs too
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 47 }), fc.integer({ min: 0, max: 255 }), async (pos, val) => {
      const c = await loggedIn();
      const p = encodePdu({ op: Op.SCSI_COMMAND, immediate: false, final: true, read: true, write: false, attr: 1, lun: 0n, itt: 1,
        expectedDataTransferLength: 512, cmdSN: c.cmdSN, expStatSN: 0, cdb: Buffer.concat([read10(0, 1), Buffer.alloc(6)]), ahs: [], data: Buffer.alloc(0) });
      p[pos] = val;
      c.raw(p);
      await new Promise((r) => setTimeout(r, 5));
      c.close();
    }), { numRuns: 60 });
    const c = await loggedIn();
    assert.equal((await c.scsi(Buffer.alloc(6))).status, 0, 'the server still answers');
    c.close();
    await structuredFuzz();
    const d = await loggedIn();
    assert.equal((await d.scsi(Buffer.alloc(6))).status, 0, 'the server still answers after the structured fuzz');
    d.close();
    const sock = connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.destroy();
  });
});

/** Well-framed PDUs with random fields: initiator opcodes, flags, tags, CmdSN near the window, data. */
async function structuredFuzz(): Promise<void> {
  const keys = ['InitiatorName', 'TargetName', 'SessionType', 'AuthMethod', 'CHAP_A', 'CHAP_N', 'CHAP_R', 'CHAP_I', 'CHAP_C', 'HeaderDigest',
    'MaxRecvDataSegmentLength', 'MaxBurstLength', 'FirstBurstLength', 'InitialR2T', 'ImmediateData', 'SendTargets', 'X-foo', 'bad key'];
  const text = fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(fc.constantFrom('None', 'CHAP', '5', 'Yes', 'No', 'All', 'Discovery', T1, '0x00', ''),
    fc.string({ maxLength: 20 }))), { maxLength: 6 }).map((pairs) => Buffer.from(pairs.map(([k, v]) => `${k}=${v}\0`).join(''), 'latin1'));
  const pdu = fc.record({
    op: fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x1c, 0x21), imm: fc.boolean(), b1: fc.integer({ min: 0, max: 255 }),
    tag: fc.integer({ min: 0, max: 4 }), near: fc.boolean(), rest: fc.uint8Array({ minLength: 48, maxLength: 48 }),
    data: fc.oneof(text, fc.uint8Array({ maxLength: 700 }).map((u) => Buffer.from(u))),
  });
  await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(pdu, { minLength: 1, maxLength: 8 }), async (login, pdus) => {
    const c = login ? await loggedIn() : await TestInitiator.connect(srv.port);
    for (const p of pdus) {
      const bhs = Buffer.from(p.rest);
      bhs[0] = p.op | (p.imm ? 0x40 : 0);
      bhs[1] = p.b1;
      bhs[4] = 0;
      bhs.writeUIntBE(p.data.length, 5, 3);
      bhs.writeUInt32BE(p.tag === 4 ? RESERVED_TAG : p.tag, 16);
      if (p.near) bhs.writeUInt32BE((c.cmdSN + (p.b1 % 3)) >>> 0, 24);
      const pad = Buffer.alloc((4 - (p.data.length % 4)) % 4);
      c.raw(Buffer.concat([bhs, p.data, pad]));
    }
    await new Promise((r) => setTimeout(r, 10));
    c.close();
  }), { numRuns: 150 });
}
