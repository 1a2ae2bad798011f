/**
 * The login phase of one connection (RFC 7143 sections 6.3, 6.4, 11.12, 11.13, 12, 13): a state
 * machine fed Login Request PDUs, answering Login Response PDUs. Security stage (AuthMethod None
 * or CHAP with MD5, mutual CHAP when the target has credentials for it), operational stage
 * (`negotiateOperational`), transit rules, C-bit text continuation, and the status codes of
 * 11.13.5. When the final response (transit to full feature phase) is built the machine calls
 * `LoginHost.begin`, which gives the session its TSIH (and reinstates an older one with the
 * same initiator name and ISID).
 *
 * Sequence numbers are not filled here: the connection stamps StatSN, ExpCmdSN and MaxCmdSN on
 * every PDU as it sends it.
 */
import { randomBytes } from 'node:crypto';
import { LoginStatus, Op, RESERVED_TAG, Stage, type LoginRequest, type LoginResponse } from './wire/pdu.js';
import {
  Answer, ChapAlgorithm, chapResponse, defaultParams, encodeText, formatHex, negotiateOperational, parseChapResponse, parseList,
  selectChapAlgorithm, TextAssembler, TextError, verifyChapResponse, type OperationalParams, type Pair, type TargetPolicy,
} from './wire/text.js';
import { canonicalName, initiatorAllowed, type TargetCatalog, type TargetConfig } from './targets.js';

/** The target portal group tag of our one portal (RFC 7143 section 13.9). */
export const PORTAL_GROUP_TAG = 1;
/** Bytes of the CHAP challenge we send (RFC 1994 lets it be any length; 16 = the MD5 output). */
const CHAP_CHALLENGE_BYTES = 16;
/** Longest Login Response data segment we build (the initiator's MaxRecvDataSegmentLength during login is 8192). */
const LOGIN_TEXT_MAX = 8192;

/** What a finished login hands to the full feature phase. */
export interface LoginOutcome {
  discovery: boolean;
  initiatorName: string;
  isid: Buffer;
  tsih: number;
  cid: number;
  /** The CmdSN of the leading Login Request: the first ExpCmdSN (RFC 7143 section 4.2.2.1). */
  cmdSN: number;
  target?: TargetConfig;
  params: OperationalParams;
}

/** What the machine needs from the server. */
export interface LoginHost {
  catalog: TargetCatalog;
  policy: TargetPolicy;
  /** Does a session with this TSIH exist (a login that adds a connection to one)? */
  sessionExists(tsih: number): boolean;
  /**
   * Called once, when the final Login Response is being built: returns the new session's TSIH
   * (1..65535). Closes an older session of the same initiator name, ISID and target first
   * (session reinstatement, RFC 7143 section 6.3.5).
   */
  begin(o: Omit<LoginOutcome, 'tsih'>): Promise<number>;
  /** Where to log refusals (optional). */
  log?: (o: object, msg: string) => void;
}

/** The machine's answer to one Login Request. */
export interface LoginStep {
  replies: LoginResponse[];
  /** Set with the final response: the session goes to full feature phase after it is sent. */
  done?: LoginOutcome;
  /** Close the connection after sending the replies (a failed login, 11.13.5). */
  close?: boolean;
}

type ChapState = 'none' | 'wait-method' | 'wait-algorithm' | 'wait-response' | 'done';

class LoginFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The login state machine of one connection. */
export class LoginMachine {
  private first: LoginRequest | undefined;
  private stage: number = Stage.SECURITY;
  private started = false;
  private readonly assembler = new TextAssembler();
  private initiatorName = '';
  private discovery = false;
  private target: TargetConfig | undefined;
  private params: OperationalParams = defaultParams();
  private declared = false;
  private auth: ChapState = 'wait-method';
  private chapId = 0;
  private challenge: Buffer = Buffer.alloc(0);
  private sentPortalTag = false;
  private finished = false;

  constructor(private readonly host: LoginHost) {}

  /** Handles one Login Request; never throws (a bad request is a failed-login response). */
  async handle(req: LoginRequest): Promise<LoginStep> {
    try {
      return await this.step(req);
    } catch (err) {
      if (err instanceof LoginFailure) {
        this.host.log?.({ initiator: this.initiatorName || undefined, status: `0x${err.status.toString(16).padStart(4, '0')}`, why: err.message }, 'iscsi: login refused');
        return { replies: [this.failure(req, err.status)], close: true };
      }
      if (err instanceof TextError) {
        this.host.log?.({ initiator: this.initiatorName || undefined, why: err.message }, 'iscsi: malformed login text');
        return { replies: [this.failure(req, LoginStatus.INITIATOR_ERROR)], close: true };
      }
      this.host.log?.({ err: String((err as Error)?.message ?? err) }, 'iscsi: login failed on a target error');
      return { replies: [this.failure(req, LoginStatus.TARGET_ERROR)], close: true };
    }
  }

  private async step(req: LoginRequest): Promise<LoginStep> {
    if (this.finished) throw new LoginFailure(LoginStatus.INVALID_DURING_LOGIN, 'login already complete');
    if (!this.first) {
      this.first = req;
      // Version-max/min (11.12.4): draft-20 version 0x00 is the only one there is.
      if (req.versionMin > 0) throw new LoginFailure(LoginStatus.UNSUPPORTED_VERSION, `version ${req.versionMin}..${req.versionMax}`);
      if (req.tsih !== 0) {
        // Adding a connection to a session: MaxConnections is 1 here.
        if (this.host.sessionExists(req.tsih)) throw new LoginFailure(LoginStatus.TOO_MANY_CONNECTIONS, 'MaxConnections=1');
        throw new LoginFailure(LoginStatus.SESSION_DOES_NOT_EXIST, `no session with TSIH ${req.tsih}`);
      }
      if (req.csg !== Stage.SECURITY && req.csg !== Stage.OPERATIONAL) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `login starts in stage ${req.csg}`);
      this.stage = req.csg;
    } else if (!req.isid.equals(this.first.isid) || req.tsih !== this.first.tsih) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'ISID or TSIH changed during login');
    }
    if (req.transit && req.cont) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'T and C both set (11.12.2)');
    if (req.csg !== this.stage) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `CSG ${req.csg} while in stage ${this.stage}`);
    if (req.transit && (req.nsg <= req.csg || req.nsg === 2)) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `transit from ${req.csg} to ${req.nsg}`);

    const pairs = this.assembler.add(req.data, req.cont);
    if (pairs === null) return { replies: [this.response(req, false, [])] }; // more text follows (6.1)

    if (!this.started) await this.startLogin(pairs);

    const replies: Pair[] = [];
    if (!this.discovery && !this.sentPortalTag) {
      replies.push(['TargetPortalGroupTag', String(PORTAL_GROUP_TAG)]); // first response of a normal session (13.9)
      this.sentPortalTag = true;
    }
    if (this.stage === Stage.SECURITY) this.security(pairs, replies);
    else this.operational(pairs, replies);

    let transit = req.transit;
    if (transit && this.stage === Stage.SECURITY && this.auth !== 'done') transit = false; // not yet authenticated: stay
    if (transit && req.nsg === Stage.FULL_FEATURE && this.auth !== 'done') transit = false;
    const res = this.response(req, transit, replies);
    if (!transit) return { replies: [res] };
    this.stage = req.nsg;
    if (req.nsg !== Stage.FULL_FEATURE) return { replies: [res] };

    const base = {
      discovery: this.discovery, initiatorName: this.initiatorName, isid: Buffer.from(this.first!.isid), cid: this.first!.cid,
      cmdSN: this.first!.cmdSN, ...(this.target ? { target: this.target } : {}), params: this.params,
    };
    const tsih = await this.host.begin(base);
    res.tsih = tsih;
    this.finished = true;
    return { replies: [res], done: { ...base, tsih } };
  }

  /** First complete text: who logs in to what (InitiatorName, SessionType, TargetName: 13.4-13.6). */
  private async startLogin(pairs: readonly Pair[]): Promise<void> {
    this.started = true;
    const keys = new Map(pairs);
    const name = keys.get('InitiatorName');
    if (!name) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'no InitiatorName');
    this.initiatorName = name;
    const type = keys.get('SessionType') ?? 'Normal';
    if (type !== 'Normal' && type !== 'Discovery') throw new LoginFailure(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, `SessionType=${type}`);
    this.discovery = type === 'Discovery';
    if (this.discovery) {
      this.auth = this.stage === Stage.OPERATIONAL ? 'done' : 'wait-method';
      return;
    }
    const tname = keys.get('TargetName');
    if (!tname) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'no TargetName');
    const t = await this.host.catalog.get(canonicalName(tname));
    if (!t) throw new LoginFailure(LoginStatus.NOT_FOUND, `no target ${tname}`);
    if (!initiatorAllowed(t, name)) throw new LoginFailure(LoginStatus.AUTHORIZATION_FAILURE, `${name} is not in the ACL of ${t.iqn}`);
    this.target = t;
    if (this.stage === Stage.OPERATIONAL && t.chap) {
      throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'the target requires CHAP; the login skipped the security stage');
    }
    if (this.stage === Stage.OPERATIONAL) this.auth = 'done';
  }

  private get chapRequired(): boolean {
    return !this.discovery && !!this.target?.chap;
  }

  /** Security stage (RFC 7143 section 6.3.1, 12.1.3): AuthMethod, then CHAP_A, then CHAP_N/CHAP_R. */
  private security(pairs: readonly Pair[], replies: Pair[]): void {
    const keys = new Map(pairs);
    const method = keys.get('AuthMethod');
    if (method !== undefined) {
      if (this.auth !== 'wait-method') throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'AuthMethod offered twice');
      const offer = parseList(method) ?? [];
      const want = this.chapRequired ? 'CHAP' : 'None';
      if (!offer.includes(want)) {
        replies.push(['AuthMethod', Answer.REJECT]);
        throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, `AuthMethod=${method}; the target requires ${want}`);
      }
      replies.push(['AuthMethod', want]);
      this.auth = want === 'CHAP' ? 'wait-algorithm' : 'done';
    }
    if (keys.has('CHAP_A')) {
      if (this.auth !== 'wait-algorithm') throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'CHAP_A out of turn');
      const alg = selectChapAlgorithm(keys.get('CHAP_A')!);
      if (alg === undefined) {
        replies.push(['CHAP_A', Answer.REJECT]);
        throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, `CHAP_A=${keys.get('CHAP_A')}: only MD5 (5)`);
      }
      this.chapId = randomBytes(1)[0]!;
      this.challenge = randomBytes(CHAP_CHALLENGE_BYTES);
      replies.push(['CHAP_A', String(alg)], ['CHAP_I', String(this.chapId)], ['CHAP_C', formatHex(this.challenge)]);
      this.auth = 'wait-response';
    }
    if (keys.has('CHAP_N') || keys.has('CHAP_R')) {
      if (this.auth !== 'wait-response') throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'CHAP_N/CHAP_R out of turn');
      const chap = this.target!.chap!;
      let r;
      try {
        r = parseChapResponse(keys, this.challenge);
      } catch (err) {
        throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, `bad CHAP response: ${(err as Error).message}`);
      }
      const ok = verifyChapResponse(keys.get('CHAP_R')!, this.chapId, chap.secret, this.challenge, ChapAlgorithm.MD5);
      if (r.name !== chap.user || !ok) throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, `CHAP failed for user ${JSON.stringify(r.name)}`);
      if (r.mutual) {
        const m = this.target!.mutualChap;
        if (!m) throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'mutual CHAP asked for; the target has no credentials for it');
        replies.push(['CHAP_N', m.user], ['CHAP_R', formatHex(chapResponse(r.mutual.id, m.secret, r.mutual.challenge, ChapAlgorithm.MD5))]);
      }
      this.auth = 'done';
    }
    // Operational keys may already come in the security stage; negotiate them as the op stage would.
    const rest = pairs.filter(([k]) => k !== 'AuthMethod' && !k.startsWith('CHAP_'));
    if (rest.length) this.operational(rest, replies, true);
  }

  /** Operational stage (RFC 7143 section 6.3.2, 13). */
  private operational(pairs: readonly Pair[], replies: Pair[], inSecurity = false): void {
    const offered = pairs.filter(([k]) => inSecurity || (k !== 'AuthMethod' && !k.startsWith('CHAP_')));
    const n = negotiateOperational(offered, this.host.policy, { prev: this.params, declared: this.declared || inSecurity });
    this.params = n.params;
    if (!inSecurity) this.declared = true;
    replies.push(...n.replies);
  }

  private response(req: LoginRequest, transit: boolean, pairs: readonly Pair[]): LoginResponse {
    const data = encodeText(pairs);
    if (data.length > LOGIN_TEXT_MAX) throw new LoginFailure(LoginStatus.OUT_OF_RESOURCES, 'login response text too long');
    return {
      op: Op.LOGIN_RESPONSE, transit, cont: false, csg: req.csg, nsg: transit ? req.nsg : 0, versionMax: 0, versionActive: 0,
      isid: Buffer.from(req.isid), tsih: 0, itt: req.itt, statSN: 0, expCmdSN: 0, maxCmdSN: 0, status: LoginStatus.SUCCESS, ahs: [], data,
    };
  }

  private failure(req: LoginRequest, status: number): LoginResponse {
    return {
      op: Op.LOGIN_RESPONSE, transit: false, cont: false, csg: req.csg, nsg: 0, versionMax: 0, versionActive: 0,
      isid: Buffer.from(req.isid), tsih: 0, itt: req.itt ?? RESERVED_TAG, statSN: 0, expCmdSN: 0, maxCmdSN: 0, status, ahs: [],
      data: Buffer.alloc(0),
    };
  }
}
