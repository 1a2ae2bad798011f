/**
 * NTLMSSP and SPNEGO: MS-NLMP 4.2.4 NTLMv2 vectors, the real Windows 10 / Server 2016 exchange
 * from Microsoft's "anatomy of signing and cryptographic keys" post (verified end to end: NTLMv2
 * proof, key exchange, MIC, mechListMIC), round trips and fuzzing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WireError } from '../wire/reader.js';
import { decodeSessionSetupRequest, decodeSessionSetupResponse } from '../wire/session-setup.js';
import { decodeNegotiateResponse } from '../wire/negotiate.js';
import { NLMP, X311 } from '../testdata/ms-vectors.js';
import { rc4 } from './legacy.js';
import {
  AV, buildChallenge, computeMic, decodeAuthenticateMessage, decodeAvPairs, decodeChallengeMessage, decodeNegotiateMessage, encodeAuthenticateMessage,
  encodeAvPairs, encodeNegotiateMessage, lmv2Response, NTLM_FLAG, ntHash, NtlmMic, ntlmv2Response, ntowfv2, sealKey, signKey, verifyAuthenticate,
  type AuthenticateMessage,
} from './ntlm.js';
import { decodeOid, decodeSpnego, encodeMechTypes, encodeNegTokenInit, encodeNegTokenInit2, encodeNegTokenResp, encodeOid, NEG_HINT_NAME, NEG_STATE, OID_NTLMSSP } from './spnego.js';

const onlyWireErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
};
const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 8 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0x5a)]);
  });

/** The three NTLM messages of the blog exchange, out of their SPNEGO wrappers. */
function blogMessages() {
  const init = decodeSpnego(decodeSessionSetupRequest(X311.sessionSetupRequest1).securityBuffer);
  const chal = decodeSpnego(decodeSessionSetupResponse(X311.sessionSetupResponse1).securityBuffer);
  const auth = decodeSpnego(decodeSessionSetupRequest(X311.sessionSetupRequest2).securityBuffer);
  assert.ok(init.kind === 'init' && chal.kind === 'resp' && auth.kind === 'resp');
  return { init: init.init, chal: chal.resp, auth: auth.resp, negotiate: init.init.mechToken!, challenge: chal.resp.responseToken!, authenticate: auth.resp.responseToken! };
}

test('MS-NLMP 4.2.4: NTOWFv2, NTProofStr, SessionBaseKey, LMv2 and the encrypted session key', () => {
  const nt = ntHash(NLMP.password);
  assert.deepEqual(nt, NLMP.ntHash);
  const key = ntowfv2(nt, NLMP.user, NLMP.domain);
  assert.deepEqual(key, NLMP.ntowfv2);
  const r = ntlmv2Response(key, NLMP.serverChallenge, NLMP.clientChallenge, NLMP.time, NLMP.targetInfo);
  assert.deepEqual(r.ntProofStr, NLMP.ntProofStr);
  assert.deepEqual(r.sessionBaseKey, NLMP.sessionBaseKey);
  assert.deepEqual(lmv2Response(key, NLMP.serverChallenge, NLMP.clientChallenge), NLMP.lmv2Response);
  assert.deepEqual(rc4(r.sessionBaseKey, NLMP.randomSessionKey), NLMP.encryptedRandomSessionKey);
  // The case of the user name does not matter (it is upper-cased), the domain's does.
  assert.deepEqual(ntowfv2(nt, 'USER', NLMP.domain), NLMP.ntowfv2);
  assert.notDeepEqual(ntowfv2(nt, NLMP.user, 'DOMAIN'), NLMP.ntowfv2);
});

test('MS-NLMP 4.2.4.3: the CHALLENGE_MESSAGE decodes; AV pairs round-trip', () => {
  const c = decodeChallengeMessage(NLMP.challengeMessage);
  assert.equal(c.flags >>> 0, NLMP.flags);
  assert.equal(c.targetName, 'Server');
  assert.deepEqual(c.serverChallenge, NLMP.serverChallenge);
  assert.deepEqual(c.targetInfo, NLMP.targetInfo);
  const pairs = decodeAvPairs(c.targetInfo);
  assert.deepEqual(pairs.map((p) => [p.id, p.value.toString('utf16le')]), [[AV.NB_DOMAIN_NAME, 'Domain'], [AV.NB_COMPUTER_NAME, 'Server']]);
  assert.deepEqual(encodeAvPairs(pairs), NLMP.targetInfo);
  assert.throws(() => decodeAvPairs(NLMP.targetInfo.subarray(0, 30)), WireError);
});

test('blog exchange: SPNEGO tokens of NEGOTIATE and both SESSION_SETUP rounds', () => {
  const neg = decodeSpnego(decodeNegotiateResponse(X311.negotiateResponse).securityBuffer);
  assert.ok(neg.kind === 'init');
  assert.deepEqual(neg.init.mechTypes, ['1.3.6.1.4.1.311.2.2.30', OID_NTLMSSP]);
  const m = blogMessages();
  assert.deepEqual(m.init.mechTypes, [OID_NTLMSSP]);
  assert.deepEqual(m.init.mechTypesDer, encodeMechTypes([OID_NTLMSSP]));
  assert.equal(m.chal.negState, NEG_STATE.ACCEPT_INCOMPLETE);
  assert.equal(m.chal.supportedMech, OID_NTLMSSP);
  assert.equal(m.auth.mechListMIC!.length, 16);
  const done = decodeSpnego(decodeSessionSetupResponse(X311.sessionSetupResponse2).securityBuffer);
  assert.ok(done.kind === 'resp' && done.resp.negState === NEG_STATE.ACCEPT_COMPLETED && done.resp.mechListMIC!.length === 16);
  // Re-encoding the server's tokens gives Windows' bytes.
  assert.deepEqual(encodeNegTokenResp(m.chal), decodeSessionSetupResponse(X311.sessionSetupResponse1).securityBuffer);
  assert.deepEqual(encodeNegTokenResp(done.resp), decodeSessionSetupResponse(X311.sessionSetupResponse2).securityBuffer);
  assert.deepEqual(encodeNegTokenInit({ mechTypes: [OID_NTLMSSP], mechToken: m.negotiate }), decodeSessionSetupRequest(X311.sessionSetupRequest1).securityBuffer);
});

test('blog exchange: the NTLM messages decode', () => {
  const m = blogMessages();
  const n = decodeNegotiateMessage(m.negotiate);
  assert.equal(n.flags >>> 0, 0xe2088297);
  const c = decodeChallengeMessage(m.challenge);
  assert.equal(c.flags >>> 0, 0xe28a8215);
  assert.deepEqual(c.serverChallenge, X311.ntlm.serverChallenge);
  assert.equal(c.targetName, 'SUT311');
  assert.deepEqual(decodeAvPairs(c.targetInfo).map((p) => p.id), [AV.NB_DOMAIN_NAME, AV.NB_COMPUTER_NAME, AV.DNS_DOMAIN_NAME, AV.DNS_COMPUTER_NAME, AV.TIMESTAMP]);
  const a = decodeAuthenticateMessage(m.authenticate);
  assert.deepEqual([a.user, a.domain, a.workstation], ['administrator', 'SUT311', 'DRIVER311']);
  assert.deepEqual(a.mic, X311.ntlm.mic);
  assert.deepEqual(a.ntResponse.subarray(0, 16), X311.ntlm.ntProofStr);
  assert.equal(a.lmResponse.length, 24);
});

test('blog exchange: verifyAuthenticate accepts Password01!, recovers the SMB session key, checks the MIC', () => {
  const m = blogMessages();
  const nt = ntHash(X311.ntlm.password);
  assert.deepEqual(nt, X311.ntlm.ntHash);
  assert.deepEqual(ntowfv2(nt, 'administrator', 'SUT311'), X311.ntlm.ntowfv2);
  const seen: string[] = [];
  const v = verifyAuthenticate({ ...m, lookup: (u, d) => (seen.push(`${d}\\${u}`), u.toLowerCase() === 'administrator' ? nt : undefined) });
  assert.ok(v.ok && !v.anonymous);
  assert.deepEqual(v.sessionKey, X311.sessionKey);
  assert.deepEqual(seen, ['SUT311\\administrator']);
  assert.deepEqual(computeMic(v.sessionKey, m.negotiate, m.challenge, m.authenticate), X311.ntlm.mic);

  const wrong = verifyAuthenticate({ ...m, lookup: () => ntHash('Password01?') });
  assert.deepEqual(wrong, { ok: false, reason: 'bad-response', user: 'administrator', domain: 'SUT311' });
  assert.equal(verifyAuthenticate({ ...m, lookup: () => undefined }).ok, false);
  assert.deepEqual((verifyAuthenticate({ ...m, lookup: () => undefined }) as { reason: string }).reason, 'no-such-user');
  // A NEGOTIATE changed in flight (a downgrade) breaks the MIC.
  const tampered = Buffer.from(m.negotiate);
  tampered[12] = tampered[12]! ^ 0x20;
  assert.deepEqual((verifyAuthenticate({ ...m, negotiate: tampered, lookup: () => nt }) as { reason: string }).reason, 'bad-mic');
  // So does a changed MIC.
  const badMic = Buffer.from(m.authenticate);
  badMic[72] = badMic[72]! ^ 1;
  assert.deepEqual((verifyAuthenticate({ ...m, authenticate: badMic, lookup: () => nt }) as { reason: string }).reason, 'bad-mic');
});

test('blog exchange: NTLM signing/sealing keys and the SPNEGO mechListMIC both ways', () => {
  const k = X311.sessionKey;
  assert.deepEqual(signKey(k, 'client'), X311.ntlm.clientSigningKey);
  assert.deepEqual(signKey(k, 'server'), X311.ntlm.serverSigningKey);
  assert.deepEqual(sealKey(k, 'client', 0xe2888215), X311.ntlm.clientSealingKey);
  assert.deepEqual(sealKey(k, 'server', 0xe2888215), X311.ntlm.serverSealingKey);
  const m = blogMessages();
  const fromClient = new NtlmMic(k, 'client', 0xe2888215);
  assert.ok(fromClient.verify(m.init.mechTypesDer, m.auth.mechListMIC!));
  const done = decodeSpnego(decodeSessionSetupResponse(X311.sessionSetupResponse2).securityBuffer);
  assert.ok(done.kind === 'resp');
  assert.deepEqual(new NtlmMic(k, 'server', 0xe2888215).mic(m.init.mechTypesDer), done.resp.mechListMIC);
  assert.equal(new NtlmMic(k, 'client', 0xe2888215).verify(encodeMechTypes(['1.2.3']), m.auth.mechListMIC!), false);
});

test('server side: buildChallenge, a client-built AUTHENTICATE with KEY_EXCH and MIC verifies; anonymous; NTLMv1 refused', () => {
  const clientFlags = 0xe2088297;
  const negotiate = encodeNegotiateMessage(clientFlags);
  const { message: challenge, challenge: c } = buildChallenge(decodeNegotiateMessage(negotiate), { nbDomain: 'WORKGROUP', nbComputer: 'DW', dnsComputer: 'dw.example.org' }, Buffer.from('0011223344556677', 'hex'), Date.UTC(2026, 0, 1));
  assert.equal(c.flags & NTLM_FLAG.TARGET_INFO, NTLM_FLAG.TARGET_INFO);
  assert.equal(c.flags & NTLM_FLAG.KEY_EXCH, NTLM_FLAG.KEY_EXCH);
  assert.equal(c.flags & NTLM_FLAG.OEM, 0);
  const back = decodeChallengeMessage(challenge);
  assert.deepEqual(back, c);
  const ts = decodeAvPairs(c.targetInfo).find((p) => p.id === AV.TIMESTAMP)!.value.readBigUInt64LE(0);
  assert.equal(ts, (BigInt(Date.UTC(2026, 0, 1)) + 11644473600000n) * 10000n);

  const nt = ntHash('s3cret');
  const key = ntowfv2(nt, 'alice', 'WORKGROUP');
  const pairs = [...decodeAvPairs(c.targetInfo), { id: AV.FLAGS, value: Buffer.from([2, 0, 0, 0]) }];
  const r = ntlmv2Response(key, c.serverChallenge, Buffer.alloc(8, 7), Buffer.alloc(8, 1), encodeAvPairs(pairs));
  const exported = Buffer.alloc(16, 0x42);
  const a: AuthenticateMessage = {
    flags: c.flags, lmResponse: Buffer.alloc(24), ntResponse: r.ntResponse, domain: 'WORKGROUP', user: 'alice', workstation: 'PC',
    encryptedRandomSessionKey: rc4(r.sessionBaseKey, exported),
  };
  const unsigned = encodeAuthenticateMessage(a);
  const authenticate = encodeAuthenticateMessage({ ...a, mic: computeMic(exported, negotiate, challenge, unsigned) });
  assert.deepEqual(decodeAuthenticateMessage(authenticate).user, 'alice');
  const v = verifyAuthenticate({ negotiate, challenge, authenticate, lookup: (u) => (u === 'alice' ? nt : undefined) });
  assert.ok(v.ok && !v.anonymous);
  assert.deepEqual(v.sessionKey, exported);
  // A client that sent an empty domain while computing with its own is still recognised.
  const noDom = encodeAuthenticateMessage({ ...a, domain: '', ntResponse: ntlmv2Response(ntowfv2(nt, 'alice', ''), c.serverChallenge, Buffer.alloc(8, 7), Buffer.alloc(8, 1), c.targetInfo).ntResponse });
  assert.equal(verifyAuthenticate({ negotiate, challenge, authenticate: noDom, lookup: () => nt }).ok, true);

  const anon = encodeAuthenticateMessage({ ...a, user: '', domain: '', ntResponse: Buffer.alloc(0), lmResponse: Buffer.alloc(1), encryptedRandomSessionKey: Buffer.alloc(0) });
  const va = verifyAuthenticate({ negotiate, challenge, authenticate: anon, lookup: () => undefined });
  assert.ok(va.ok && va.anonymous);
  const v1 = encodeAuthenticateMessage({ ...a, ntResponse: Buffer.alloc(24, 1) });
  assert.deepEqual((verifyAuthenticate({ negotiate, challenge, authenticate: v1, lookup: () => nt }) as { reason: string }).reason, 'ntlmv1');
  assert.throws(() => buildChallenge({ flags: NTLM_FLAG.OEM, domain: '', workstation: '' }, { nbDomain: 'W', nbComputer: 'D', dnsComputer: 'd' }), WireError);
});

test('SPNEGO: NegTokenInit2 for the NEGOTIATE response, NegTokenResp and OIDs round-trip; bad DER refused', () => {
  const t = decodeSpnego(encodeNegTokenInit2());
  assert.ok(t.kind === 'init');
  assert.deepEqual(t.init.mechTypes, [OID_NTLMSSP]);
  assert.equal(t.init.hintName, NEG_HINT_NAME);
  assert.equal(encodeOid(OID_NTLMSSP).toString('hex'), '2b06010401823702020a');
  fc.assert(fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), (rest, a0, a1) => {
    const oid = [a0, a1, ...rest].join('.');
    assert.equal(decodeOid(encodeOid(oid)), oid);
  }), { numRuns: 300 });
  const respArb = fc.record({
    negState: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), supportedMech: fc.option(fc.constant(OID_NTLMSSP), { nil: undefined }),
    responseToken: fc.option(fc.uint8Array({ maxLength: 600 }).map((x) => Buffer.from(x)), { nil: undefined }),
    mechListMIC: fc.option(fc.uint8Array({ maxLength: 16 }).map((x) => Buffer.from(x)), { nil: undefined }),
  }, { requiredKeys: [], noNullPrototype: true });
  fc.assert(fc.property(respArb, (r) => {
    const d = decodeSpnego(encodeNegTokenResp(r));
    assert.ok(d.kind === 'resp');
    assert.deepEqual(d.resp, Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
  }), { numRuns: 300 });
  assert.throws(() => decodeSpnego(Buffer.from('a18000', 'hex')), /indefinite/);
  assert.throws(() => decodeSpnego(Buffer.from('a1073005a0030a0109', 'hex')), /negState/);
  assert.throws(() => decodeSpnego(Buffer.from('a1843fffffff', 'hex')), /too large/);
  assert.throws(() => decodeSpnego(Buffer.from('600806062a864886f712', 'hex')), /not SPNEGO/);
});

test('fuzz: SPNEGO and NTLM decoders throw only WireErrors; verifyAuthenticate never throws', () => {
  const m = blogMessages();
  const blobs = [decodeSessionSetupRequest(X311.sessionSetupRequest1).securityBuffer, decodeSessionSetupResponse(X311.sessionSetupResponse1).securityBuffer,
    decodeSessionSetupRequest(X311.sessionSetupRequest2).securityBuffer, decodeNegotiateResponse(X311.negotiateResponse).securityBuffer, encodeNegTokenInit2()];
  for (const b of blobs) fc.assert(fc.property(mutated(b), (x) => onlyWireErrors(() => decodeSpnego(x))), { numRuns: 300 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (x) => onlyWireErrors(() => decodeSpnego(Buffer.from(x)))), { numRuns: 300 });
  fc.assert(fc.property(mutated(m.negotiate), (x) => onlyWireErrors(() => decodeNegotiateMessage(x))), { numRuns: 300 });
  fc.assert(fc.property(mutated(m.challenge), (x) => onlyWireErrors(() => decodeChallengeMessage(x))), { numRuns: 300 });
  fc.assert(fc.property(mutated(m.authenticate), (x) => onlyWireErrors(() => decodeAuthenticateMessage(x))), { numRuns: 500 });
  const nt = ntHash(X311.ntlm.password);
  fc.assert(fc.property(mutated(m.authenticate), (x) => {
    const v = verifyAuthenticate({ ...m, authenticate: x, lookup: () => nt });
    if (v.ok && !x.equals(m.authenticate)) assert.ok(!v.anonymous && v.sessionKey.length === 16);
  }), { numRuns: 500 });
});
