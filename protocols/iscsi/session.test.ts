/**
 * Session behaviour over a socket (test-initiator.ts), with a device double whose commands can
 * be held until the test releases them: task attributes (ORDERED, HEAD OF QUEUE), ABORT TASK SET,
 * LOGICAL UNIT RESET, the Data-Out byte budget holding back R2Ts, the transfer cap, a long
 * SendTargets answer over several Text Responses, login text continued with the C bit, logout
 * variants, ITT reuse, and a data digest error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogicalUnit, Nexus, ScsiResult, ScsiTask, TargetDevices } from './device.js';
import type { BlockVolume } from '../../vfs/types.js';
import { startIscsiServer, type IscsiServer } from './server.js';
import { staticCatalog, type TargetConfig } from './targets.js';
import { DEFAULT_KEYS, TestInitiator } from './test-initiator.js';
import { encodeLun, encodePdu, type Ahs, LoginStatus, LogoutResponse, Op, RejectReason, RESERVED_TAG, TmfFunction, TmfResponse, type TargetPdu } from './wire/pdu.js';
import { encodeText, parseText, type Pair } from './wire/text.js';

/**
 * Commands: 0x00 TUR; 0xc1 waits for `release(tag)` (tag = cdb[1]) or an abort; 0xc3 does too,
 * then answers 4 KiB of `tag` bytes as lent Data-In (its giveBack logs the tag in `given`);
 * 0x2a WRITE(10) stores the data.
 */
class HoldLu implements LogicalUnit {
  readonly held = new Map<number, () => void>();
  readonly order: string[] = [];
  readonly given: number[] = [];
  resets = 0;
  writes: Buffer[] = [];
  readonly volume = { sizeBytes: 1 << 20 } as { sizeBytes: number } as unknown as BlockVolume;
  capacityChanges = 0;
  release(tag: number): void {
    this.held.get(tag)?.();
  }
  async execute(t: ScsiTask): Promise<ScsiResult> {
    const c = t.cdb;
    if (c[0] === 0xc1 || c[0] === 0xc3) {
      const tag = c[1]!;
      this.order.push(`start ${tag}`);
      await new Promise<void>((r) => {
        this.held.set(tag, r);
        t.signal?.addEventListener('abort', () => r(), { once: true });
      });
      this.held.delete(tag);
      this.order.push(`end ${tag}`);
      if (c[0] === 0xc3) return { status: 0, dataInParts: [Buffer.alloc(4096, tag)], giveBack: () => this.given.push(tag) };
      return { status: 0 };
    }
    if (c[0] === 0x2a) {
      this.writes.push(t.dataOut ?? Buffer.alloc(0));
      return { status: 0 };
    }
    this.order.push(`tur ${c[1]}`);
    return { status: 0 };
  }
  nexusAdded(_n: Nexus): void {}
  nexusRemoved(_n: Nexus): void {}
  reset(): void { this.resets++; }
  capacityChanged(): void { this.capacityChanges++; }
}

const lu = new HoldLu();
const devices: TargetDevices = {
  luns: () => [0],
  lu: (n) => (n === 0 ? lu : undefined),
  execute: (t) => (t.lun === 0 ? lu.execute(t) : Promise.resolve({ status: 2 })),
};
const T = 'iqn.2026-11.test:hold';
const many: TargetConfig[] = Array.from({ length: 200 }, (_, i) => ({ iqn: `iqn.2026-11.test.many:target-number-${String(i).padStart(4, '0')}`, luns: [{ lun: 0, volume: 'x' }], initiators: [] }));
let srv: IscsiServer;

before(async () => {
  srv = await startIscsiServer({
    host: '127.0.0.1', port: 0, catalog: staticCatalog([{ iqn: T, luns: [{ lun: 0, volume: 'v' }], initiators: [] }, ...many]),
    policy: { maxBurstLength: 16384, firstBurstLength: 8192 }, maxWriteBuffer: 64 * 1024, maxTransfer: 1 << 20,
    openTarget: async () => ({ devices, close: async () => {} }),
  });
});
after(async () => {
  await srv.close();
});

const R2T_ONLY: Pair[] = DEFAULT_KEYS.map(([k, v]): Pair => (k === 'InitialR2T' ? [k, 'Yes'] : k === 'ImmediateData' ? [k, 'No'] : [k, v]));

async function session(keys: Pair[] = DEFAULT_KEYS): Promise<TestInitiator> {
  const c = await TestInitiator.connect(srv.port);
  assert.equal((await c.login({ targetName: T, keys })).status, 0);
  return c;
}

function cmd(c: TestInitiator, itt: number, cdb: number[], o: { attr?: number; write?: number; read?: number; immediate?: boolean } = {}): void {
  const b = Buffer.alloc(16);
  Buffer.from(cdb).copy(b);
  c.send({ op: Op.SCSI_COMMAND, immediate: o.immediate ?? false, final: true, read: !!o.read, write: !!o.write, attr: o.attr ?? 1, lun: encodeLun(0), itt,
    expectedDataTransferLength: o.write ?? o.read ?? 0, cmdSN: c.cmdSN, expStatSN: c.expStatSN, cdb: b, ahs: [], data: Buffer.alloc(0) });
  if (!o.immediate) c.cmdSN++;
}

const tmf = (c: TestInitiator, itt: number, func: number, lun = 0, ref = RESERVED_TAG): void => c.send({ op: Op.TASK_MGMT_REQUEST, immediate: true, func,
  lun: encodeLun(lun), itt, referencedTaskTag: ref, cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN: 0, expDataSN: 0, ahs: [], data: Buffer.alloc(0) });

const itt = (p: TargetPdu | null): number => (p as { itt: number }).itt;
const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('task attributes and task management', () => {
  it('ORDERED waits for the tasks before it and holds back the ones after; HEAD OF QUEUE runs at once', async () => {
    const c = await session();
    lu.order.length = 0;
    cmd(c, 1, [0xc1, 1]); // SIMPLE, held
    await tick();
    cmd(c, 2, [0x00, 2], { attr: 2 }); // ORDERED
    cmd(c, 3, [0x00, 3], { attr: 1 }); // SIMPLE after the ORDERED
    cmd(c, 4, [0x00, 4], { attr: 3 }); // HEAD OF QUEUE
    assert.equal(itt(await c.recv()), 4, 'HEAD OF QUEUE answered while the SIMPLE one is held');
    assert.ok(await c.quiet(100), 'ORDERED and the SIMPLE after it wait');
    lu.release(1);
    const got = [itt(await c.recv()), itt(await c.recv()), itt(await c.recv())];
    assert.deepEqual(got, [1, 2, 3]);
    assert.deepEqual(lu.order, ['start 1', 'tur 4', 'end 1', 'tur 2', 'tur 3']);
    c.close();
  });

  it('ABORT TASK SET ends the session\'s tasks without responses; LOGICAL UNIT RESET resets the LU; an absent LUN is named', async () => {
    const c = await session();
    cmd(c, 10, [0xc1, 10]);
    cmd(c, 11, [0xc1, 11]);
    await tick();
    tmf(c, 12, TmfFunction.ABORT_TASK_SET);
    const r = await c.recv();
    assert.equal(r?.op, Op.TASK_MGMT_RESPONSE);
    assert.equal((r as { response: number }).response, TmfResponse.FUNCTION_COMPLETE);
    assert.ok(await c.quiet(100));
    const before = lu.resets;
    cmd(c, 13, [0xc1, 13]);
    await tick();
    tmf(c, 14, TmfFunction.LOGICAL_UNIT_RESET);
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.FUNCTION_COMPLETE);
    assert.equal(lu.resets, before + 1);
    tmf(c, 15, TmfFunction.LOGICAL_UNIT_RESET, 5);
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.LUN_DOES_NOT_EXIST);
    tmf(c, 16, TmfFunction.TASK_REASSIGN);
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.TASK_REASSIGNMENT_NOT_SUPPORTED);
    assert.ok(await c.quiet(50), 'the task cut by the reset gets no response');
    c.close();
  });

  it('an ITT still in use is refused with Reject TASK IN PROGRESS', async () => {
    const c = await session();
    cmd(c, 20, [0xc1, 20]);
    await tick();
    cmd(c, 20, [0x00, 0]);
    const r = await c.recv();
    assert.equal(r?.op, Op.REJECT);
    assert.equal((r as { reason: number }).reason, RejectReason.TASK_IN_PROGRESS);
    lu.release(20);
    assert.equal(itt(await c.recv()), 20);
    c.close();
  });
});

describe('lent Data-In (BlockVolume.readLent)', () => {
  it('is given back once after it is sent; an aborted task\'s and a dropped connection\'s unsent, at once', async () => {
    const c = await session();
    lu.given.length = 0;
    cmd(c, 40, [0xc3, 40], { read: 4096 });
    await tick();
    assert.deepEqual(lu.given, [], 'nothing given back while the task runs');
    lu.release(40);
    const d = await c.recv();
    assert.equal(d?.op, Op.SCSI_DATA_IN);
    assert.ok((d as { data: Buffer }).data.equals(Buffer.alloc(4096, 40)));
    await tick(10);
    assert.deepEqual(lu.given, [40]);
    cmd(c, 41, [0xc3, 41], { read: 4096 });
    await tick();
    tmf(c, 42, TmfFunction.ABORT_TASK, 0, 41);
    assert.equal(((await c.recv()) as { response: number }).response, TmfResponse.FUNCTION_COMPLETE);
    assert.ok(await c.quiet(50), 'the aborted read sends nothing');
    assert.deepEqual(lu.given, [40, 41]);
    cmd(c, 43, [0xc3, 43], { read: 4096 });
    await tick();
    c.close();
    await tick();
    lu.release(43);
    await tick();
    assert.deepEqual(lu.given, [40, 41, 43], 'a connection gone: given back, once');
  });
});

describe('volume resize', () => {
  it('a volume that changed size since the last command: the LU is told once (CAPACITY DATA HAS CHANGED)', async () => {
    const c = await session();
    cmd(c, 80, [0x00, 0]);
    await c.recv();
    const before = lu.capacityChanges;
    (lu.volume as unknown as { sizeBytes: number }).sizeBytes = 2 << 20;
    cmd(c, 81, [0x00, 0]);
    await c.recv();
    cmd(c, 82, [0x00, 0]);
    await c.recv();
    assert.equal(lu.capacityChanges, before + 1);
    c.close();
  });
});

describe('Data-Out', () => {
  it('a write reserves its length at its first R2T; later writes wait for the budget, in order, and go when it frees', async () => {
    const c = await session(R2T_ONLY);
    const wcdb = (lba: number, blocks: number): number[] => [0x2a, 0, 0, 0, 0, lba, 0, 0, blocks, 0];
    const len = 48 * 1024; // 3 bursts of 16 KiB; two such writes pass the 64 KiB budget
    cmd(c, 30, wcdb(0, 96), { write: len });
    const a = (await c.recv()) as TargetPdu & { ttt: number; desiredDataTransferLength: number };
    assert.equal(a.op, Op.R2T);
    assert.equal(itt(a), 30);
    assert.equal(a.desiredDataTransferLength, 16384);
    cmd(c, 31, wcdb(100, 96), { write: len });
    cmd(c, 32, wcdb(200, 2), { write: 1024 });
    assert.ok(await c.quiet(100), 'no R2T for 31 (over budget) nor for the small 32 behind it');
    const send = (t: number, ttt: number, off: number): void => c.send({ op: Op.SCSI_DATA_OUT, final: true, lun: encodeLun(0), itt: t, ttt,
      expStatSN: c.expStatSN, dataSN: 0, bufferOffset: off, ahs: [], data: Buffer.alloc(16384, t) });
    // Task 30 gets all its bursts although 31 waits (a started task always finishes).
    send(30, a.ttt, 0);
    for (let off = 16384; off < len; off += 16384) {
      const r = (await c.recv()) as TargetPdu & { ttt: number };
      assert.equal(r.op, Op.R2T);
      assert.equal(itt(r), 30);
      send(30, r.ttt, off);
    }
    const done = await c.recv();
    assert.equal(done?.op, Op.SCSI_RESPONSE);
    assert.equal(itt(done), 30);
    const next = (await c.recv()) as TargetPdu & { ttt: number };
    assert.equal(next.op, Op.R2T);
    assert.equal(itt(next), 31, 'the waiting write is solicited first once 30 released its bytes');
    const small = await c.recv();
    assert.equal(itt(small), 32);
    assert.equal(lu.writes.at(-1)!.length, len);
    assert.ok(lu.writes.at(-1)!.every((b) => b === 30));
    c.close();
  });

  it('a write longer than the transfer cap gets CHECK CONDITION, INVALID FIELD IN CDB, before any R2T', async () => {
    const c = await session(R2T_ONLY);
    cmd(c, 40, [0x2a, 0, 0, 0, 0, 0, 0, 0x10, 0, 0], { write: 2 << 20 });
    const r = await c.recv();
    assert.equal(r?.op, Op.SCSI_RESPONSE);
    assert.equal((r as { status: number }).status, 2);
    assert.equal(r!.data[2 + 12], 0x24);
    c.close();
  });

  it('a data digest error is answered with Reject 0x02 and the connection goes on', async () => {
    const keys = DEFAULT_KEYS.map(([k, v]): Pair => (k === 'DataDigest' ? [k, 'CRC32C'] : [k, v]));
    const c = await session(keys);
    assert.ok(c.digests.data);
    const p = encodePdu({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 50, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [],
      data: Buffer.from('12345678') }, c.digests);
    p[p.length - 1] = p[p.length - 1]! ^ 0xff;
    c.raw(p);
    const r = await c.recv();
    assert.equal(r?.op, Op.REJECT);
    assert.equal((r as { reason: number }).reason, RejectReason.DATA_DIGEST_ERROR);
    c.send({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 51, ttt: RESERVED_TAG, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [], data: Buffer.from('ok') });
    const n = await c.recv();
    assert.equal(itt(n), 51);
    assert.equal(n!.data.toString(), 'ok');
    c.close();
  });
});

describe('text, login and logout', () => {
  it('a SendTargets answer longer than the initiator takes comes in parts (C bit, TTT)', async () => {
    const c = await TestInitiator.connect(srv.port);
    assert.equal((await c.login({ discovery: true })).status, 0);
    const parts: Buffer[] = [];
    let ttt = RESERVED_TAG;
    for (let i = 0; i < 10; i++) {
      c.send({ op: Op.TEXT_REQUEST, immediate: true, final: true, cont: false, lun: 0n, itt: 60, ttt, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [],
        data: i === 0 ? encodeText([['SendTargets', 'All']]) : Buffer.alloc(0) });
      const r = (await c.recv()) as TargetPdu & { final: boolean; cont: boolean; ttt: number };
      assert.equal(r.op, Op.TEXT_RESPONSE);
      assert.ok(r.data.length <= 8192);
      parts.push(r.data);
      if (r.final) break;
      assert.ok(r.cont);
      ttt = r.ttt;
    }
    assert.ok(parts.length >= 2, `${parts.length} parts`);
    const names = parseText(Buffer.concat(parts)).filter(([k]) => k === 'TargetName').map(([, v]) => v);
    assert.equal(names.length, 201);
    c.close();
  });

  it('a Text Request continued with the C bit: the rest comes with the TTT of the empty answer (RFC 7143 11.10.4); a new request starts afresh', async () => {
    const c = await TestInitiator.connect(srv.port);
    assert.equal((await c.login({ discovery: true })).status, 0);
    const text = encodeText([['SendTargets', T]]);
    const req = (itt: number, ttt: number, cont: boolean, data: Buffer) =>
      c.send({ op: Op.TEXT_REQUEST, immediate: true, final: !cont, cont, lun: 0n, itt, ttt, cmdSN: c.cmdSN, expStatSN: c.expStatSN, ahs: [], data });
    type Text = TargetPdu & { final: boolean; ttt: number; data: Buffer };
    // An abandoned continuation first: a new request (TTT 0xffffffff) must not see its bytes.
    req(70, RESERVED_TAG, true, Buffer.from('Junk'));
    const junk = (await c.recv()) as Text;
    assert.equal(junk.op, Op.TEXT_RESPONSE);
    req(71, RESERVED_TAG, true, text.subarray(0, 5));
    const empty = (await c.recv()) as Text;
    assert.equal(empty.op, Op.TEXT_RESPONSE);
    assert.equal(empty.final, false);
    assert.equal(empty.data.length, 0);
    assert.notEqual(empty.ttt, RESERVED_TAG);
    req(71, empty.ttt, false, text.subarray(5));
    const r = (await c.recv()) as Text;
    assert.equal(r.op, Op.TEXT_RESPONSE, `got op 0x${r.op.toString(16)}`);
    assert.equal(r.final, true);
    assert.deepEqual(parseText(r.data).filter(([k]) => k === 'TargetName').map(([, v]) => v), [T]);
    c.close();
  });

  it('login text continued with the C bit', async () => {
    const c = await TestInitiator.connect(srv.port);
    const all = encodeText([['InitiatorName', 'iqn.2026-11.test:cont'], ['TargetName', T], ['SessionType', 'Normal'], ...DEFAULT_KEYS]);
    const base = { op: Op.LOGIN_REQUEST, immediate: true, csg: 1, nsg: 3, versionMax: 0, versionMin: 0, isid: c.isid, tsih: 0, itt: 1, cid: 0, cmdSN: 1,
      expStatSN: 0, ahs: [] as Ahs[] } as const;
    c.send({ ...base, transit: false, cont: true, data: all.subarray(0, 40) });
    const first = (await c.recv()) as TargetPdu & { status: number; transit: boolean };
    assert.equal(first.op, Op.LOGIN_RESPONSE);
    assert.equal(first.status, 0);
    assert.equal(first.data.length, 0);
    assert.equal(first.transit, false);
    c.send({ ...base, transit: true, cont: false, data: all.subarray(40) });
    const last = (await c.recv()) as TargetPdu & { status: number; transit: boolean; tsih: number };
    assert.equal(last.status, LoginStatus.SUCCESS);
    assert.ok(last.transit && last.tsih > 0);
    c.close();
  });

  it('logout: wrong CID, connection recovery not supported, then close', async () => {
    const c = await session();
    const lo = (reason: number, cid: number, i: number): void => c.send({ op: Op.LOGOUT_REQUEST, immediate: true, reason, itt: i, cid, cmdSN: c.cmdSN,
      expStatSN: c.expStatSN, ahs: [], data: Buffer.alloc(0) });
    lo(1, 7, 70);
    assert.equal(((await c.recv()) as { response: number }).response, LogoutResponse.CID_NOT_FOUND);
    lo(2, 0, 71);
    assert.equal(((await c.recv()) as { response: number }).response, LogoutResponse.RECOVERY_NOT_SUPPORTED);
    lo(1, 0, 72);
    const r = (await c.recv()) as TargetPdu & { response: number; time2Wait: number };
    assert.equal(r.response, LogoutResponse.SUCCESS);
    await c.closedP;
  });
});
