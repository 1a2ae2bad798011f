/** iSCSI key=value text, operational negotiation and CHAP: real libiscsi/tgt logins, limits, RFC rules, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeInitiatorPdu, decodeTargetPdu, splitPdus } from './pdu.js';
import { WireError } from './reader.js';
import {
  Answer, ChapAlgorithm, chapResponse, defaultParams, defaultPolicy, encodeText, formatBase64, formatHex, MAX_BINARY_VALUE_LENGTH,
  MAX_KEY_LENGTH, MAX_VALUE_LENGTH, negotiateKey, negotiateOperational, parseBinary, parseBoolean, parseChapResponse, parseList,
  parseNumber, parseText, selectChapAlgorithm, splitText, TextAssembler, TextError, textToMap, verifyChapResponse, type Pair,
} from './text.js';
import { CHAP_INQ, DISCOVERY, INQ } from '../testdata/tgt-captures.js';

const pairsOf = (stream: Buffer, side: 'i' | 't', n: number): Pair[] =>
  parseText((side === 'i' ? decodeInitiatorPdu : decodeTargetPdu)(splitPdus(stream)[n]!).data);
const onlyTextErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof TextError)) throw err;
  }
};

test('parse: the libiscsi login offer and tgt answer; encoding gives the same bytes back', () => {
  const login = decodeInitiatorPdu(splitPdus(INQ.initiator)[0]!);
  const offer = parseText(login.data);
  assert.equal(offer.length, 19);
  assert.deepEqual(offer.slice(0, 4), [['InitiatorName', 'iqn.2026-11.test:init'], ['TargetName', 'iqn.2026-11.peer:lun1'],
    ['SessionType', 'Normal'], ['HeaderDigest', 'None,CRC32C']]);
  assert.deepEqual(encodeText(offer), login.data);
  const answer = decodeTargetPdu(splitPdus(INQ.target)[0]!);
  assert.deepEqual(encodeText(parseText(answer.data)), answer.data);
  assert.deepEqual(pairsOf(DISCOVERY.initiator, 'i', 1), [['SendTargets', 'All']]);
  assert.deepEqual(pairsOf(DISCOVERY.target, 't', 1), [['TargetName', 'iqn.2026-11.peer:lun1'], ['TargetAddress', '127.0.0.1:13260,1']]);
  assert.equal(textToMap(offer).get('MaxRecvDataSegmentLength'), '262144');
});

test('parse: limits and malformed text (RFC 7143 section 6.1)', () => {
  const t = (s: string): Buffer => Buffer.from(s, 'utf8');
  assert.deepEqual(parseText(Buffer.alloc(0)), []);
  assert.deepEqual(parseText(t('A=\0\0B=x=y\0')), [['A', ''], ['B', 'x=y']]);
  assert.throws(() => parseText(t('A=1')), /NUL/);
  assert.throws(() => parseText(t('A\0')), /"="/);
  assert.throws(() => parseText(t('=1\0')), /empty key/);
  assert.throws(() => parseText(t('lower=1\0')), /bad key/);
  assert.throws(() => parseText(Buffer.from([0x41, 0x3d, 0xff, 0])), /UTF-8/);
  const k63 = `K${'x'.repeat(MAX_KEY_LENGTH - 1)}`;
  assert.equal(parseText(t(`${k63}=1\0`))[0]![0], k63);
  assert.throws(() => parseText(t(`${k63}x=1\0`)), /key name of 64/);
  assert.equal(parseText(t(`V=${'v'.repeat(MAX_VALUE_LENGTH)}\0`))[0]![1].length, 255);
  assert.throws(() => parseText(t(`V=${'v'.repeat(MAX_VALUE_LENGTH + 1)}\0`)), /256 bytes/);
  const bigC = `0x${'ab'.repeat((MAX_BINARY_VALUE_LENGTH - 2) / 2)}`;
  assert.equal(parseText(t(`CHAP_C=${bigC}\0`))[0]![1], bigC);
  assert.throws(() => parseText(t(`CHAP_C=${bigC}a\0`)), /8193/);
  assert.throws(() => parseText(Buffer.alloc(100, 0x41), 50), /max 50/);
  assert.throws(() => textToMap([['A', '1'], ['A', '2']]), /twice/);
  assert.throws(() => encodeText([['bad', '1']]), TextError);
  assert.throws(() => encodeText([['A', 'x\0y']]), /NUL/);
  assert.throws(() => encodeText([['A', 'x'.repeat(256)]]), /too long/);
});

test('text sequences: C bit continuation and splitting to the peer MaxRecvDataSegmentLength', () => {
  const text = encodeText([['TargetName', 'iqn.2026-11.example:a'], ['TargetAddress', '127.0.0.1:3260,1'], ['X-vendor.key', 'v']]);
  const chunks = splitText(text, 7);
  assert.ok(chunks.length > 5);
  assert.ok(chunks.every((c) => c.length <= 7));
  const asm = new TextAssembler();
  let got: Pair[] | null = null;
  chunks.forEach((c, i) => {
    got = asm.add(c, i < chunks.length - 1);
    if (i < chunks.length - 1) assert.equal(got, null);
  });
  assert.deepEqual(got, parseText(text));
  const small = new TextAssembler(10);
  small.add(Buffer.alloc(8), true);
  assert.throws(() => small.add(Buffer.alloc(8), false), /longer than 10/);
  assert.deepEqual(splitText(Buffer.alloc(0), 8), [Buffer.alloc(0)]);
});

test('values: numbers, booleans, lists, binary (hex, base64)', () => {
  assert.equal(parseNumber('262144', 512, 2 ** 24 - 1), 262144);
  assert.equal(parseNumber('0x200', 512), 512);
  assert.equal(parseNumber('511', 512), undefined);
  assert.equal(parseNumber('-1'), undefined);
  assert.equal(parseNumber('1e3'), undefined);
  assert.equal(parseNumber('99999999999999999999'), undefined);
  assert.equal(parseBoolean('Yes'), true);
  assert.equal(parseBoolean('yes'), undefined);
  assert.deepEqual(parseList('CRC32C,None'), ['CRC32C', 'None']);
  assert.equal(parseList('CRC32C,,None'), undefined);
  assert.deepEqual(parseBinary('0x0aFF'), Buffer.from([0x0a, 0xff]));
  assert.deepEqual(parseBinary('0XabC'), Buffer.from([0x0a, 0xbc]));
  assert.deepEqual(parseBinary('0bAQID'), Buffer.from([1, 2, 3]));
  assert.deepEqual(parseBinary(formatBase64(Buffer.from('hello'))), Buffer.from('hello'));
  assert.equal(formatHex(Buffer.from([1, 0xab])), '0x01ab');
  assert.throws(() => parseBinary('1234'), TextError);
  assert.throws(() => parseBinary('0x'), TextError);
  assert.throws(() => parseBinary('0bAQI'), TextError);
  assert.throws(() => parseBinary(`0x${'00'.repeat(17)}`, 16), /max 16/);
});

test('negotiation: libiscsi\'s operational offer against the default policy (RFC 7143 sections 6.2, 13)', () => {
  const offer = pairsOf(INQ.initiator, 'i', 0);
  const n = negotiateOperational(offer, defaultPolicy());
  const r = new Map(n.replies);
  assert.equal(r.get('HeaderDigest'), 'None'); // the initiator listed None first: the first one we support wins
  assert.equal(r.get('DataDigest'), 'None');
  assert.equal(r.get('InitialR2T'), 'No'); // OR of No and our No
  assert.equal(r.get('ImmediateData'), 'Yes');
  assert.equal(r.get('MaxBurstLength'), '262144'); // min(262144, 1 MiB)
  assert.equal(r.get('FirstBurstLength'), '262144');
  assert.equal(r.get('DefaultTime2Retain'), '0');
  assert.equal(r.get('IFMarker'), 'No');
  assert.equal(r.get('MaxRecvDataSegmentLength'), '262144'); // ours, declared
  assert.deepEqual(n.other.map(([k]) => k), ['InitiatorName', 'TargetName', 'SessionType']);
  assert.deepEqual(n.rejected, []);
  assert.equal(n.params.initiatorMaxRecvDataSegmentLength, 262144);
  assert.equal(n.params.maxBurstLength, 262144);
  assert.equal(n.params.initialR2T, false);
  assert.equal(n.params.errorRecoveryLevel, 0);
  assert.equal(n.params.headerDigest, false);
});

test('negotiation: result functions, Reject, NotUnderstood, Irrelevant, FirstBurstLength ≤ MaxBurstLength', () => {
  const policy = { ...defaultPolicy(), maxBurstLength: 65536, immediateData: false, initialR2T: true };
  const n = negotiateOperational([
    ['HeaderDigest', 'CRC32C,None'], ['DataDigest', 'MD5'], ['MaxBurstLength', '1048576'], ['FirstBurstLength', '262144'],
    ['ImmediateData', 'Yes'], ['InitialR2T', 'No'], ['DefaultTime2Wait', '0'], ['ErrorRecoveryLevel', '2'], ['MaxConnections', '0'],
    ['MaxOutstandingR2T', 'x'], ['Frobnicate', '1'], ['OFMarkInt', '1~65535'], ['MaxRecvDataSegmentLength', '100'],
  ], policy);
  assert.deepEqual(n.replies, [
    ['HeaderDigest', 'CRC32C'], ['DataDigest', Answer.REJECT], ['MaxBurstLength', '65536'], ['FirstBurstLength', '65536'],
    ['ImmediateData', 'No'], ['InitialR2T', 'Yes'], ['DefaultTime2Wait', '2'], ['ErrorRecoveryLevel', '0'], ['MaxConnections', Answer.REJECT],
    ['MaxOutstandingR2T', Answer.REJECT], ['Frobnicate', Answer.NOT_UNDERSTOOD], ['OFMarkInt', Answer.IRRELEVANT],
    ['MaxRecvDataSegmentLength', '262144'],
  ]);
  assert.deepEqual(n.rejected, ['DataDigest', 'MaxConnections', 'MaxOutstandingR2T', 'MaxRecvDataSegmentLength']);
  assert.equal(n.params.headerDigest, true);
  assert.equal(n.params.firstBurstLength, 65536);
  assert.equal(n.params.immediateData, false);
  assert.equal(n.params.initiatorMaxRecvDataSegmentLength, defaultParams().initiatorMaxRecvDataSegmentLength);
  const disc = negotiateOperational([['MaxBurstLength', '4096'], ['HeaderDigest', 'None']], defaultPolicy(), { discovery: true, declared: true });
  assert.deepEqual(disc.replies, [['MaxBurstLength', Answer.IRRELEVANT], ['HeaderDigest', 'None']]);
  assert.throws(() => negotiateOperational([['MaxBurstLength', '4096'], ['MaxBurstLength', '512']], defaultPolicy()), /twice/);
  assert.deepEqual(negotiateKey('DefaultTime2Retain', '3601', defaultPolicy()), { reply: Answer.REJECT });
  assert.deepEqual(negotiateKey('DataSequenceInOrder', 'No', { ...defaultPolicy(), dataSequenceInOrder: false }), { reply: 'No', value: false });
});

test('CHAP: tgt\'s challenge and libiscsi\'s response verify with the secret (RFC 1994 MD5, RFC 7143 12.1.3)', () => {
  const t1 = textToMap(pairsOf(CHAP_INQ.target, 't', 1));
  const i2 = textToMap(pairsOf(CHAP_INQ.initiator, 'i', 2));
  assert.equal(selectChapAlgorithm(pairsOf(CHAP_INQ.initiator, 'i', 1)[0]![1]), ChapAlgorithm.MD5);
  const challenge = parseBinary(t1.get('CHAP_C')!);
  assert.equal(challenge.length, 50);
  const id = Number(t1.get('CHAP_I'));
  assert.equal(chapResponse(id, 'chapsecret123', challenge).toString('hex'), '28ff9ebe188c63c89c3f89f001b288f7');
  assert.equal(verifyChapResponse(i2.get('CHAP_R')!, id, 'chapsecret123', challenge), true);
  assert.equal(verifyChapResponse(i2.get('CHAP_R')!, id, 'wrong-secret', challenge), false);
  assert.equal(verifyChapResponse(i2.get('CHAP_R')!, (id + 1) & 0xff, 'chapsecret123', challenge), false);
  assert.equal(verifyChapResponse('0xzz', id, 'chapsecret123', challenge), false);
  const r = parseChapResponse(i2, challenge);
  assert.equal(r.name, 'chapuser');
  assert.equal(r.mutual, undefined);
});

test('CHAP: algorithm choice, mutual CHAP, reflection and half-given keys refused', () => {
  assert.equal(selectChapAlgorithm('7,5'), ChapAlgorithm.MD5);
  assert.equal(selectChapAlgorithm('7,5', [7, 5]), 7);
  assert.equal(selectChapAlgorithm('6'), undefined);
  assert.equal(selectChapAlgorithm('x,,5'), undefined);
  assert.equal(chapResponse(1, 's', Buffer.from('c'), ChapAlgorithm.SHA256).length, 32);
  assert.throws(() => chapResponse(256, 's', Buffer.alloc(1)), RangeError);
  const ours = Buffer.alloc(16, 7);
  const keys = new Map([['CHAP_N', 'u'], ['CHAP_R', formatHex(Buffer.alloc(16))], ['CHAP_I', '9'], ['CHAP_C', formatHex(Buffer.alloc(16, 1))]]);
  assert.deepEqual(parseChapResponse(keys, ours).mutual, { id: 9, challenge: Buffer.alloc(16, 1) });
  assert.throws(() => parseChapResponse(new Map([...keys, ['CHAP_C', formatHex(ours)]]), ours), /repeats/);
  assert.throws(() => parseChapResponse(new Map([...keys].filter(([k]) => k !== 'CHAP_I')), ours), /together/);
  assert.throws(() => parseChapResponse(new Map([['CHAP_N', 'u']]), ours), /required/);
  assert.throws(() => parseChapResponse(new Map([...keys, ['CHAP_I', '256']]), ours), /CHAP_I/);
});

test('fuzz: any bytes → pairs or TextError; any pairs → a negotiation or TextError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
    onlyTextErrors(() => {
      const pairs = parseText(Buffer.from(a));
      assert.deepEqual(parseText(encodeText(pairs)), pairs);
    });
  }), { numRuns: 1000 });
  const key = fc.constantFrom('HeaderDigest', 'DataDigest', 'MaxBurstLength', 'FirstBurstLength', 'ImmediateData', 'InitialR2T',
    'MaxRecvDataSegmentLength', 'ErrorRecoveryLevel', 'MaxConnections', 'DefaultTime2Wait', 'IFMarker', 'CHAP_A', 'Zed');
  const value = fc.oneof(fc.string({ maxLength: 12 }), fc.nat().map(String), fc.constantFrom('Yes', 'No', 'CRC32C', 'None', 'None,CRC32C'));
  fc.assert(fc.property(fc.array(fc.tuple(key, value), { maxLength: 12 }), fc.boolean(), (pairs, discovery) => {
    onlyTextErrors(() => {
      const n = negotiateOperational(pairs, defaultPolicy(), { discovery });
      // No key twice in the answer, and our MaxRecvDataSegmentLength always declared.
      assert.equal(new Set(n.replies.map(([k]) => k)).size, n.replies.length);
      assert.ok(n.replies.some(([k]) => k === 'MaxRecvDataSegmentLength'));
      assert.ok(n.params.firstBurstLength <= n.params.maxBurstLength);
      assert.ok(n.params.maxBurstLength <= defaultPolicy().maxBurstLength);
    });
  }), { numRuns: 1000 });
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
    try {
      parseBinary(s);
    } catch (err) {
      assert.ok(err instanceof TextError && err instanceof WireError);
    }
  }), { numRuns: 500 });
});
