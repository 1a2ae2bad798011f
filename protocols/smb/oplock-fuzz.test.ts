/**
 * Fuzz of the oplock, lease and durable-handle decoders (issue 7, acceptance 6): any bytes as an
 * RqLs, DH2Q, DHnC or DH2C create context, and any body after an SMB2 header as an OPLOCK_BREAK
 * or lease break acknowledgment, give a value, `undefined`, or an SmbStatusError/WireError (an
 * error status for the client), never anything else; a full-length lease context decodes its key,
 * state, flags and (v2) parent key and epoch where MS-SMB2 2.2.13.2.10 puts them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SmbStatusError } from './errors.js';
import { durableRequest, reconnectTarget } from './durable.js';
import { decodeLeaseAck, leaseRequest } from './lease.js';
import { decodeOplockAck } from './oplock.js';
import type { SmbConnection } from './session.js';
import { SMB2_HEADER_SIZE } from './wire/header.js';
import { DIALECT } from './wire/negotiate.js';

const conn = (dialect: number) => ({ dialect }) as unknown as SmbConnection;
const ok = (err: unknown) => err instanceof SmbStatusError || (err as Error).name === 'WireError';

test('lease and durable contexts: any bytes decode or are refused with a status', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom('RqLs', 'DH2Q', 'DHnQ', 'DHnC', 'DH2C'), fc.constantFrom(DIALECT.SMB210, DIALECT.SMB311),
    (bytes, name, dialect) => {
      const contexts = [{ name, data: Buffer.from(bytes) }];
      for (const f of [() => leaseRequest(conn(dialect), contexts), () => durableRequest(contexts), () => reconnectTarget(contexts)]) {
        try { f(); } catch (err) { assert.ok(ok(err), String(err)); }
      }
    }));
});

test('a v2 lease context decodes its fields in place', () => {
  const b = Buffer.alloc(52);
  b.fill(0xab, 0, 16);
  b.writeUInt32LE(0x7, 16);
  b.writeUInt32LE(0x4, 20); // SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET
  b.fill(0xcd, 32, 48);
  b.writeUInt16LE(9, 48);
  const r = leaseRequest(conn(DIALECT.SMB311), [{ name: 'RqLs', data: b }])!;
  assert.deepEqual([r.key, r.state, r.flags, r.version, r.parentKey, r.epoch], [Buffer.alloc(16, 0xab), 7, 4, 2, Buffer.alloc(16, 0xcd), 9]);
  const v1 = leaseRequest(conn(DIALECT.SMB210), [{ name: 'RqLs', data: b }])!;
  assert.deepEqual([v1.version, v1.parentKey, v1.epoch], [1, undefined, 0], 'a 2.1 connection reads v1');
  assert.equal(leaseRequest(conn(DIALECT.SMB311), [{ name: 'RqLs', data: b.subarray(0, 31) }]), undefined, 'too short: no lease');
});

test('break acknowledgments: any body decodes or is a WireError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (body) => {
    const msg = Buffer.concat([Buffer.alloc(SMB2_HEADER_SIZE), Buffer.from(body)]);
    for (const f of [() => decodeOplockAck(msg), () => decodeLeaseAck(msg)]) {
      try { f(); } catch (err) { assert.equal((err as Error).name, 'WireError', String(err)); }
    }
  }));
});
