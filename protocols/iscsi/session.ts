/**
 * Full feature phase of one session (one connection: MaxConnections=1, ErrorRecoveryLevel 0),
 * RFC 7143 sections 4.2.2, 11: command numbering and the CmdSN window (ExpCmdSN/MaxCmdSN, a
 * fixed queue depth minus the tasks outstanding, commands delivered in CmdSN order, immediate
 * ones at once), StatSN, SCSI tasks (tasks.ts) executed as their task attribute asks (SIMPLE in
 * any order, ORDERED after everything before it and before everything after it, HEAD OF QUEUE
 * at once), NOP-Out → NOP-In, Text Request (SendTargets; long text both ways with the C bit
 * and TTT), Task Management (ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET,
 * TARGET WARM RESET, TARGET COLD RESET which then ends every connection to the target; TASK
 * REASSIGN "task reassignment not supported", the rest "function not supported"), Logout,
 * SNACK → Reject. Sans-IO: PDUs in (`receive`), stamped PDUs out (`SessionHost.write`).
 */
import type { LogicalUnit, Nexus, TargetDevices } from './device.js';
import type { LoginOutcome } from './login.js';
import { DataOutError, dataPhaseSense, headerOf, responsePdus, targetFailure, Task, TaskAttr } from './tasks.js';
import type { TargetConfig } from './targets.js';
import {
  decodeLun, LogoutReason, scsiResponse, LogoutResponse, Op, PduError, RejectReason, RESERVED_TAG, TmfFunction, TmfResponse, type DataOut,
  type InitiatorPdu, type LogoutRequest, type NopOut, type Reject, type ScsiCommand, type TargetPdu, type TaskMgmtRequest,
  type TextRequest,
} from './wire/pdu.js';
import { Asc, checkCondition, ScsiStatus, SenseKey } from './wire/scsi.js';
import { encodeText, splitText, TextAssembler, TextError, type Pair } from './wire/text.js';

/** Serial number arithmetic on 32 bits (RFC 1982, RFC 7143 section 4.2.2.1): a < b. */
function snLt(a: number, b: number): boolean {
  return a !== b && ((b - a) >>> 0) < 0x80000000;
}
const snAdd = (a: number, n: number): number => (a + n) >>> 0;

/** Initiator name, ISID and target of a login as one key: a new login with the key of a live session reinstates it (RFC 7143 section 6.3.5). */
export function sessionKey(o: Pick<LoginOutcome, 'initiatorName' | 'isid' | 'target'>): string {
  return `${o.initiatorName.toLowerCase()}|${o.isid.toString('hex')}|${o.target?.iqn ?? ''}`;
}

/** What the session needs from its connection and server. */
export interface SessionHost {
  /** Sends PDUs in this order (already stamped); `sent` is called once their bytes have been written to the socket, or dropped. */
  write(pdus: readonly TargetPdu[], sent?: () => void): void;
  /** Ends the connection once what was written has gone (after a Logout Response). */
  end(): void;
  /** Drops the connection now (a fatal protocol error at ErrorRecoveryLevel 0). */
  drop(why: string): void;
  /** Work finished: reading may resume if it was paused. */
  wake(): void;
  /** The SendTargets answer (RFC 7143 section 12.3, appendix C) for `value` ("All", an IQN, or "" for the current target). */
  sendTargets(value: string, initiatorName: string, current?: TargetConfig): Promise<Pair[]>;
  /** Every live session of the target named (this one included): CLEAR TASK SET and the resets reach them all. */
  peers(iqn: string): Session[];
  /** TARGET COLD RESET: ends the connection of every session of the target once what was written has gone. */
  endAll(iqn: string): void;
  log?: (o: object, msg: string) => void;
}

export interface SessionOptions {
  login: LoginOutcome;
  /** The target's devices (normal sessions). */
  devices?: TargetDevices;
  nexus?: Nexus;
  /** The StatSN of the first response in full feature phase. */
  statSN: number;
  /** Commands the window admits beyond the ones outstanding (MaxCmdSN - ExpCmdSN + 1 when idle). Default 64. */
  queueDepth?: number;
  /** Data-Out bytes held for unfinished tasks before further R2Ts wait. Default 64 MiB. */
  maxWriteBuffer?: number;
  /** Longest Expected Data Transfer Length of a write accepted (larger: CHECK CONDITION). Default 32 MiB. */
  maxTransfer?: number;
}

/** PDUs whose StatSN field consumes a number (a response of some kind: 11.2.1.9-ish rules per PDU). */
function consumesStatSN(p: TargetPdu): boolean {
  switch (p.op) {
    case Op.SCSI_DATA_IN: return p.statusPresent;
    case Op.NOP_IN: return p.itt !== RESERVED_TAG;
    case Op.R2T: return false;
    default: return true;
  }
}

/** One session in full feature phase. */
export class Session {
  readonly tsih: number;
  readonly login: LoginOutcome;
  readonly devices: TargetDevices | undefined;
  readonly nexus: Nexus | undefined;
  private statSN: number;
  private expCmdSN: number;
  private maxCmdSN: number;
  private readonly depth: number;
  private readonly maxWriteBuffer: number;
  private readonly maxTransfer: number;
  private readonly tasks = new Map<number, Task>();
  /** Non-immediate PDUs that arrived ahead of a CmdSN gap, by CmdSN (bounded by the window). */
  private readonly held = new Map<number, () => void>();
  /** CmdSNs an ABORT TASK declared received before they arrived (RFC 7143 section 11.5.1 b). */
  private readonly cancelled = new Set<number>();
  private outstanding = 0;
  /** Tasks handed to the device layer and not back. */
  executing = 0;
  /**
   * Data-Out bytes counted for unfinished tasks: what arrived unsolicited, plus the whole rest of a
   * write once its first R2T goes out (a started task always gets to finish: no deadlock between
   * half-gathered tasks), released when the task ends.
   */
  private committed = 0;
  private readonly waitingForBudget: Task[] = [];
  private lastOrdered: Promise<void> = Promise.resolve();
  private nextTtt = 1;
  private readonly textIn = new TextAssembler();
  private textOut: { itt: number; ttt: number; chunks: Buffer[] } | undefined;
  /** The initiator's text continues (C bit) in a Text Request carrying this ITT and TTT. */
  private textCont: { itt: number; ttt: number } | undefined;
  private closed = false;
  private loggingOut = false;

  constructor(private readonly host: SessionHost, o: SessionOptions) {
    this.login = o.login;
    this.tsih = o.login.tsih;
    this.devices = o.devices;
    this.nexus = o.nexus;
    this.statSN = o.statSN >>> 0;
    this.expCmdSN = o.login.cmdSN >>> 0;
    this.depth = o.queueDepth ?? 64;
    this.maxCmdSN = snAdd(this.expCmdSN, this.depth - 1);
    this.maxWriteBuffer = o.maxWriteBuffer ?? 64 << 20;
    this.maxTransfer = o.maxTransfer ?? 32 << 20;
  }

  get discovery(): boolean {
    return this.login.discovery;
  }

  /** Initiator name, ISID and target as one key (session reinstatement, RFC 7143 section 6.3.5). */
  get key(): string {
    return sessionKey(this.login);
  }

  /** Tasks the session holds (not finished). */
  get taskCount(): number {
    return this.tasks.size;
  }

  /** The window as stamped on the next PDU. */
  get window(): { statSN: number; expCmdSN: number; maxCmdSN: number } {
    return { statSN: this.statSN, expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN };
  }

  /** Should the connection stop reading (too much work in the device layer)? */
  get busy(): boolean {
    // Only tasks in the device layer count: pausing for tasks that still wait for Data-Out would starve them.
    return this.executing >= this.depth;
  }

  private updateWindow(): void {
    const free = Math.max(0, this.depth - this.outstanding);
    const cand = snAdd(this.expCmdSN, free - 1);
    if (snLt(this.maxCmdSN, cand)) this.maxCmdSN = cand; // never lower: the initiator ignores a smaller one
  }

  private stamp(p: TargetPdu): TargetPdu {
    const q = p as TargetPdu & { statSN?: number; expCmdSN: number; maxCmdSN: number };
    if (p.op !== Op.SCSI_DATA_IN || p.statusPresent) q.statSN = this.statSN;
    if (consumesStatSN(p)) this.statSN = snAdd(this.statSN, 1);
    q.expCmdSN = this.expCmdSN;
    q.maxCmdSN = this.maxCmdSN;
    return p;
  }

  private send(...pdus: TargetPdu[]): void {
    this.sendThen(pdus);
  }

  /** Sends `pdus`; `sent` is called once they are written or dropped (lent Data-In goes back then). */
  private sendThen(pdus: TargetPdu[], sent?: () => void): void {
    if (this.closed && !this.loggingOut) {
      sent?.();
      return;
    }
    this.updateWindow();
    this.host.write(pdus.map((p) => this.stamp(p)), sent);
  }

  /** A Reject (11.17) for `err`, stamped. */
  reject(err: PduError): void {
    const r: Reject = { op: Op.REJECT, reason: err.reason, itt: RESERVED_TAG, statSN: 0, expCmdSN: 0, maxCmdSN: 0, dataSN: 0, ahs: [],
      data: Buffer.from(err.header.subarray(0, 48)) };
    this.send(r);
  }

  /**
   * Takes one PDU of the full feature phase. Throws PduError (the connection answers with a
   * Reject, and drops the connection when `fatal`).
   */
  receive(pdu: InitiatorPdu): void {
    if (this.closed) return;
    switch (pdu.op) {
      case Op.SCSI_DATA_OUT:
        this.dataOut(pdu);
        return;
      case Op.SNACK_REQUEST:
        throw new PduError('SNACK at ErrorRecoveryLevel 0', RejectReason.SNACK_REJECT, headerOf(pdu));
      case Op.LOGIN_REQUEST:
        throw new PduError('Login Request in full feature phase', RejectReason.PROTOCOL_ERROR, headerOf(pdu));
      default:
        break;
    }
    if (pdu.op === Op.SCSI_COMMAND) {
      if (this.discovery || !this.devices) throw new PduError('SCSI Command in a discovery session', RejectReason.PROTOCOL_ERROR, headerOf(pdu));
      if (this.tasks.has(pdu.itt)) throw new PduError(`ITT 0x${pdu.itt.toString(16)} already in use`, RejectReason.TASK_IN_PROGRESS, headerOf(pdu));
      if (pdu.immediate && this.tasks.size >= 2 * this.depth) {
        throw new PduError('too many immediate commands', RejectReason.IMMEDIATE_COMMAND_REJECT, headerOf(pdu));
      }
    }
    if (pdu.op === Op.TASK_MGMT_REQUEST && this.discovery) throw new PduError('task management in a discovery session', RejectReason.PROTOCOL_ERROR, headerOf(pdu));
    const immediate = 'immediate' in pdu && pdu.immediate;
    const cmdSN = (pdu as { cmdSN: number }).cmdSN >>> 0;
    if (immediate) {
      this.prepare(pdu)?.();
      return;
    }
    // RFC 7143 section 4.2.2.1: outside [ExpCmdSN, MaxCmdSN] a non-immediate command is ignored.
    if (snLt(cmdSN, this.expCmdSN) || snLt(this.maxCmdSN, cmdSN)) {
      this.host.log?.({ cmdSN, expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN, op: pdu.op }, 'iscsi: command outside the CmdSN window ignored');
      return;
    }
    if (this.held.has(cmdSN)) return; // a duplicate
    const deliver = this.prepare(pdu);
    if (!deliver) return;
    if (cmdSN !== this.expCmdSN) {
      this.held.set(cmdSN, deliver);
      return;
    }
    this.advance(deliver);
  }

  /** ExpCmdSN moves past the delivered command and every held one that follows it. */
  private advance(deliver: () => void): void {
    let next: (() => void) | undefined = deliver;
    while (next) {
      const sn = this.expCmdSN;
      this.expCmdSN = snAdd(sn, 1);
      if (!this.cancelled.delete(sn)) next();
      next = this.held.get(this.expCmdSN);
      if (next) this.held.delete(this.expCmdSN);
      else if (this.cancelled.has(this.expCmdSN)) next = () => {};
    }
    this.updateWindow();
  }

  /** Checks a PDU on arrival and returns what delivering it (in CmdSN order) does. */
  private prepare(pdu: InitiatorPdu): (() => void) | undefined {
    switch (pdu.op) {
      case Op.SCSI_COMMAND: {
        const task = this.command(pdu);
        return () => this.deliver(task);
      }
      case Op.NOP_OUT:
        return () => this.nop(pdu);
      case Op.TEXT_REQUEST:
        return () => void this.text(pdu).catch((err: unknown) => this.fail(err));
      case Op.TASK_MGMT_REQUEST:
        return () => void this.tmf(pdu).catch((err: unknown) => this.fail(err));
      case Op.LOGOUT_REQUEST:
        return () => void this.logout(pdu).catch((err: unknown) => this.fail(err));
      default:
        throw new PduError(`opcode 0x${pdu.op.toString(16)} not supported`, RejectReason.COMMAND_NOT_SUPPORTED, headerOf(pdu));
    }
  }

  private fail(err: unknown): void {
    if (err instanceof PduError) {
      this.reject(err);
      if (err.fatal) this.host.drop(err.message);
      return;
    }
    this.host.log?.({ err: String((err as Error)?.message ?? err) }, 'iscsi: session error');
    this.host.drop('internal error');
  }

  // ---- SCSI tasks -------------------------------------------------------------------------

  private command(cmd: ScsiCommand): Task {
    const p = this.login.params;
    const task = new Task(cmd, { immediateData: p.immediateData, initialR2T: p.initialR2T, firstBurstLength: p.firstBurstLength,
      maxBurstLength: p.maxBurstLength });
    this.tasks.set(task.itt, task);
    if (task.counted) this.outstanding++;
    task.budgeted = task.received;
    this.committed += task.received;
    return task;
  }

  private deliver(task: Task): void {
    if (task.state !== 'queued') return; // aborted while held
    task.state = 'gathering';
    if (task.write && task.edtl > this.maxTransfer) {
      // Too large to gather: refuse now; Data-Out that still comes for it is dropped (unknown ITT).
      this.finishTask(task);
      const sense = tooLongSense();
      this.send(...responsePdus(task, { status: 0x02, sense }, this.login.params.initiatorMaxRecvDataSegmentLength));
      return;
    }
    let gate: Promise<unknown>;
    if (task.attr === TaskAttr.HEAD_OF_QUEUE) gate = Promise.resolve();
    else if (task.attr === TaskAttr.ORDERED) {
      gate = Promise.all([...this.tasks.values()].filter((t) => t !== task && t.state !== 'queued').map((t) => t.settled));
      this.lastOrdered = task.settled;
    } else gate = this.lastOrdered;
    (task as Task & { gate?: Promise<unknown> }).gate = gate;
    this.progress(task);
  }

  /** Moves a gathering task on: solicit its next burst, or run it once its data is complete. */
  private progress(task: Task): void {
    if (task.state !== 'gathering' || task.awaitingUnsolicited || task.soliciting) return;
    if (task.missing > 0) {
      this.solicit(task);
      return;
    }
    task.state = 'ready';
    // Nothing in run() should throw, but a result the transport cannot encode would otherwise be an
    // unhandled rejection (the process ends): it ends this connection instead.
    this.run(task).catch((err: unknown) => this.fail(err));
  }

  private solicit(task: Task, fromQueue = false): void {
    if (task.reserved === 0) {
      // The first R2T of a task reserves all it still needs; new tasks wait, in arrival order, while that would pass the budget.
      const need = task.missing;
      const queued = !fromQueue && this.waitingForBudget.length > 0;
      if (queued || (this.committed > 0 && this.committed + need > this.maxWriteBuffer)) {
        if (!this.waitingForBudget.includes(task)) this.waitingForBudget.push(task);
        return;
      }
      task.reserved = need;
      task.budgeted += need;
      this.committed += need;
    }
    this.send(task.nextR2T(this.login.params.maxBurstLength, this.takeTtt(), this.window));
  }

  /**
   * Where the PduFramer may copy the data of the Data-Out PDU whose 48-byte header is `bhs`
   * (`length` data bytes) before handing the PDU over: its task's pooled buffer at its offset, if
   * it is the next PDU in order for a task gathering its data (Task.dataTarget); else undefined.
   */
  dataTarget(bhs: Buffer, length: number): Buffer | undefined {
    if (this.closed || (bhs[0]! & 0x3f) !== Op.SCSI_DATA_OUT) return undefined;
    const task = this.tasks.get(bhs.readUInt32BE(16));
    if (!task || task.aborted || (task.state !== 'queued' && task.state !== 'gathering')) return undefined;
    return task.dataTarget(bhs.readUInt32BE(20), bhs.readUInt32BE(40), length);
  }

  private dataOut(d: DataOut): void {
    const task = this.tasks.get(d.itt);
    if (!task || task.aborted || task.state === 'done') return; // aborted or refused task: its data is dropped (11.5.1)
    if (task.state !== 'queued' && task.state !== 'gathering') {
      throw new PduError('Data-Out after the task\'s data was complete', RejectReason.PROTOCOL_ERROR, headerOf(d));
    }
    const wasSolicited = d.ttt !== RESERVED_TAG;
    let n: number;
    try {
      n = task.dataOut(d);
    } catch (err) {
      if (!(err instanceof DataOutError)) throw err;
      // Reject the PDU, end the task with ABORTED COMMAND / data phase error; its later Data-Out is dropped.
      this.host.log?.({ itt: task.itt, why: err.message }, 'iscsi: Data-Out sequence error');
      this.reject(err);
      this.finishTask(task);
      this.send(scsiResponse({ statSN: 0, expCmdSN: 0, maxCmdSN: 0, itt: task.itt, status: ScsiStatus.CHECK_CONDITION,
        sense: dataPhaseSense(err.ascq), expDataSN: task.dataSNs }));
      return;
    }
    if (!wasSolicited) {
      task.budgeted += n;
      this.committed += n;
    }
    this.progress(task);
  }

  private async run(task: Task): Promise<void> {
    await (task as Task & { gate?: Promise<unknown> }).gate;
    if (task.aborted || this.closed) {
      this.finishTask(task);
      return;
    }
    task.state = 'running';
    this.executing++;
    noticeResize(this.devices!.lu(task.lun));
    const dataOut = task.takeData();
    let result;
    try {
      result = await this.devices!.execute({
        nexus: this.nexus!, lun: task.lun, cdb: task.cdb, ...(dataOut ? { dataOut } : {}), dataInLength: task.readLength,
        attr: task.attr, signal: task.abort.signal,
      });
    } catch (err) {
      this.host.log?.({ err: String((err as Error)?.message ?? err), itt: task.itt }, 'iscsi: device layer threw');
      result = undefined;
    }
    task.releaseData();
    this.executing--;
    const aborted = task.aborted || this.closed;
    // The window slot is freed before the response goes (it carries the new MaxCmdSN), and
    // tasks waiting for Data-Out budget are solicited after it.
    let respond = false;
    this.finishTask(task, () => {
      if (aborted) return;
      respond = true;
      const maxSeg = this.login.params.initiatorMaxRecvDataSegmentLength;
      const p = this.login.params;
      if (result) this.sendThen(responsePdus(task, result, maxSeg, this.devices!.lu(task.lun)?.blockSize ?? 512, p.maxBurstLength), result.giveBack);
      else this.send(targetFailure(task));
    });
    if (!respond) result?.giveBack?.(); // aborted, or finished already: the Data-In is dropped
    this.host.wake();
  }

  /** Removes a task: its window slot, its buffered bytes; waiting tasks may be solicited now. */
  private finishTask(task: Task, respond?: () => void): void {
    if (task.state === 'done') return;
    if (this.tasks.get(task.itt) === task) this.tasks.delete(task.itt);
    if (task.counted) this.outstanding--;
    this.committed = Math.max(0, this.committed - task.budgeted);
    task.budgeted = 0;
    task.finish();
    this.updateWindow();
    respond?.();
    while (this.waitingForBudget.length && !this.closed) {
      const t = this.waitingForBudget[0]!;
      if (t.state === 'gathering') {
        this.solicit(t, true);
        if (t.reserved === 0) break; // still too large: it stays first in line (FIFO: a big write is not starved)
      }
      this.waitingForBudget.shift();
    }
  }

  /**
   * Aborts tasks (SAM-5 section 7.2): each stops as soon as the device layer lets it and gets
   * no response. Resolves when none of them is still in the device layer.
   */
  async abortTasks(which: (t: Task) => boolean): Promise<void> {
    const hit = [...this.tasks.values()].filter(which);
    for (const t of hit) {
      t.aborted = true;
      t.abort.abort();
      if (t.state !== 'running') this.finishTask(t);
    }
    this.waitingForBudget.splice(0, this.waitingForBudget.length, ...this.waitingForBudget.filter((t) => !t.aborted));
    await Promise.all(hit.map((t) => t.settled));
  }

  // ---- NOP, Text, TMF, Logout -------------------------------------------------------------

  private nop(p: NopOut): void {
    if (p.itt === RESERVED_TAG) return; // an answer to a NOP-In of ours, or a keep-alive
    const max = this.login.params.initiatorMaxRecvDataSegmentLength;
    this.send({ op: Op.NOP_IN, lun: p.lun, itt: p.itt, ttt: RESERVED_TAG, statSN: 0, expCmdSN: 0, maxCmdSN: 0, ahs: [],
      data: p.data.length > max ? p.data.subarray(0, max) : p.data });
  }

  private async text(p: TextRequest): Promise<void> {
    const max = this.login.params.initiatorMaxRecvDataSegmentLength;
    // RFC 7143 section 11.10.4: TTT 0xffffffff starts a new request (what an earlier one left is
    // dropped); another TTT copies ours, continuing our long answer or the initiator's text (C bit).
    if (p.ttt === RESERVED_TAG) {
      this.textIn.reset();
      this.textOut = undefined;
      this.textCont = undefined;
    } else if (this.textCont && this.textCont.ttt === p.ttt && this.textCont.itt === p.itt) {
      this.textCont = undefined;
    } else {
      const o = this.textOut;
      if (!o || o.ttt !== p.ttt || o.itt !== p.itt) throw new PduError('Text Request with an unknown TTT', RejectReason.INVALID_PDU_FIELD, headerOf(p));
      this.sendTextPart(o);
      return;
    }
    let pairs: Pair[] | null;
    try {
      pairs = this.textIn.add(p.data, p.cont);
    } catch (err) {
      if (err instanceof TextError) throw new PduError(err.message, RejectReason.PROTOCOL_ERROR, headerOf(p));
      throw err;
    }
    if (pairs === null) {
      // More text follows: an empty response with a TTT asks for it (11.11.4); the rest comes with that TTT.
      this.textCont = { itt: p.itt, ttt: this.takeTtt() };
      this.send({ op: Op.TEXT_RESPONSE, final: false, cont: false, lun: p.lun, itt: p.itt, ttt: this.textCont.ttt, statSN: 0, expCmdSN: 0,
        maxCmdSN: 0, ahs: [], data: Buffer.alloc(0) });
      return;
    }
    const replies: Pair[] = [];
    for (const [k, v] of pairs) {
      if (k === 'SendTargets') {
        if (this.discovery && v === '') replies.push([k, 'Reject']);
        else replies.push(...(await this.host.sendTargets(v, this.login.initiatorName, this.login.target)));
      } else if (k.startsWith('X-') || k.startsWith('X#')) replies.push([k, 'NotUnderstood']);
      else replies.push([k, 'Reject']); // no renegotiation in full feature phase
    }
    const chunks = splitText(encodeText(replies), max);
    this.textOut = { itt: p.itt, ttt: this.takeTtt(), chunks };
    this.sendTextPart(this.textOut);
  }

  /** A Target Transfer Tag for an R2T or a Text Response: 1..0x7fffffff in turn (never the reserved 0xffffffff). */
  private takeTtt(): number {
    const t = this.nextTtt;
    this.nextTtt = this.nextTtt >= 0x7fffffff ? 1 : this.nextTtt + 1;
    return t;
  }

  private sendTextPart(o: { itt: number; ttt: number; chunks: Buffer[] }): void {
    const data = o.chunks.shift() ?? Buffer.alloc(0);
    const last = o.chunks.length === 0;
    if (last) this.textOut = undefined;
    this.send({ op: Op.TEXT_RESPONSE, final: last, cont: !last, lun: 0n, itt: o.itt, ttt: last ? RESERVED_TAG : o.ttt, statSN: 0,
      expCmdSN: 0, maxCmdSN: 0, ahs: [], data });
  }

  private async tmf(req: TaskMgmtRequest): Promise<void> {
    const response = await this.tmfResponse(req);
    this.send({ op: Op.TASK_MGMT_RESPONSE, response, itt: req.itt, statSN: 0, expCmdSN: 0, maxCmdSN: 0, ahs: [], data: Buffer.alloc(0) });
    // TARGET COLD RESET (RFC 7143 section 11.5.1): after the warm reset and its response, every connection goes.
    if (req.func === TmfFunction.TARGET_COLD_RESET && response === TmfResponse.FUNCTION_COMPLETE) this.host.endAll(this.login.target?.iqn ?? '');
  }

  private async tmfResponse(req: TaskMgmtRequest): Promise<number> {
    const iqn = this.login.target?.iqn ?? '';
    const lunOf = (l: bigint): number | undefined => {
      const n = decodeLun(l);
      return n !== undefined && this.devices?.lu(n) ? n : undefined;
    };
    switch (req.func) {
      case TmfFunction.ABORT_TASK: {
        const t = this.tasks.get(req.referencedTaskTag);
        if (t) {
          await this.abortTasks((x) => x === t);
          return TmfResponse.FUNCTION_COMPLETE;
        }
        const ref = req.refCmdSN >>> 0;
        const inWindow = !snLt(ref, this.expCmdSN) && !snLt(this.maxCmdSN, ref);
        if (inWindow && snLt(ref, req.cmdSN >>> 0)) {
          // Not arrived yet: count it as received and drop it when it comes (11.5.1 b).
          if (!this.held.has(ref)) this.cancelled.add(ref);
          else this.held.set(ref, () => {});
          return TmfResponse.FUNCTION_COMPLETE;
        }
        return TmfResponse.TASK_DOES_NOT_EXIST;
      }
      case TmfFunction.ABORT_TASK_SET:
      case TmfFunction.CLEAR_TASK_SET: {
        const lun = lunOf(req.lun);
        if (lun === undefined) return TmfResponse.LUN_DOES_NOT_EXIST;
        const sessions = req.func === TmfFunction.CLEAR_TASK_SET ? this.host.peers(iqn) : [this];
        await Promise.all(sessions.map((s) => s.abortTasks((t) => t.lun === lun)));
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.LOGICAL_UNIT_RESET: {
        const lun = lunOf(req.lun);
        if (lun === undefined) return TmfResponse.LUN_DOES_NOT_EXIST;
        await Promise.all(this.host.peers(iqn).map((s) => s.abortTasks((t) => t.lun === lun)));
        this.devices!.lu(lun)!.reset(this.nexus!);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.TARGET_WARM_RESET:
      case TmfFunction.TARGET_COLD_RESET: {
        await Promise.all(this.host.peers(iqn).map((s) => s.abortTasks(() => true)));
        for (const n of this.devices!.luns()) this.devices!.lu(n)?.reset(this.nexus!);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.TASK_REASSIGN:
        return TmfResponse.TASK_REASSIGNMENT_NOT_SUPPORTED;
      default:
        return TmfResponse.FUNCTION_NOT_SUPPORTED;
    }
  }

  private async logout(req: LogoutRequest): Promise<void> {
    let response: number = LogoutResponse.SUCCESS;
    if (req.reason === LogoutReason.REMOVE_CONNECTION_FOR_RECOVERY) response = LogoutResponse.RECOVERY_NOT_SUPPORTED;
    else if (req.reason !== LogoutReason.CLOSE_SESSION && req.reason !== LogoutReason.CLOSE_CONNECTION) {
      throw new PduError(`logout reason ${req.reason}`, RejectReason.INVALID_PDU_FIELD, headerOf(req));
    } else if (req.reason === LogoutReason.CLOSE_CONNECTION && req.cid !== this.login.cid) response = LogoutResponse.CID_NOT_FOUND;
    const closing = response === LogoutResponse.SUCCESS;
    if (closing) {
      this.loggingOut = true;
      await this.abortTasks(() => true);
    }
    const p = this.login.params;
    this.send({ op: Op.LOGOUT_RESPONSE, response, itt: req.itt, statSN: 0, expCmdSN: 0, maxCmdSN: 0,
      time2Wait: p.defaultTime2Wait, time2Retain: p.defaultTime2Retain, ahs: [], data: Buffer.alloc(0) });
    if (closing) {
      this.closed = true;
      this.host.end();
    }
  }

  /** The connection is gone (or the session was reinstated): aborts every task, tells the LUs. */
  async close(): Promise<void> {
    if (this.closed && !this.loggingOut) return;
    this.closed = true;
    this.loggingOut = false;
    const done = this.abortTasks(() => true);
    this.held.clear();
    await done;
  }

  /** Logical units of the target (nexusAdded/nexusRemoved are the server's). */
  units(): LogicalUnit[] {
    if (!this.devices) return [];
    return this.devices.luns().map((n) => this.devices!.lu(n)).filter((x): x is LogicalUnit => !!x);
  }
}

/** The volume size each logical unit was last seen with, shared by every session of every target. */
const seenSize = new WeakMap<LogicalUnit, number>();

/**
 * A volume resized (`dw volume resize`, also while in use) since the LU's last command: the LU
 * raises CAPACITY DATA HAS CHANGED for every nexus (SBC-3 section 4.6, `capacityChanged`).
 */
function noticeResize(lu: LogicalUnit | undefined): void {
  if (!lu) return;
  const size = lu.volume.sizeBytes;
  const before = seenSize.get(lu);
  seenSize.set(lu, size);
  if (before !== undefined && before !== size) lu.capacityChanged();
}

/** ILLEGAL REQUEST, INVALID FIELD IN CDB: a transfer longer than this target gathers (SBC-3 Block Limits VPD). */
function tooLongSense(): Buffer {
  return checkCondition('transfer too long', SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB).sense;
}
