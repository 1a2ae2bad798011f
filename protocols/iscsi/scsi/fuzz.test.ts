/** The device layer never throws and always answers a SAM status: random CDBs of every known opcode, random Data-Out, two nexuses, resets and capacity changes in between. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FIXED_SENSE_LENGTH, ScsiOp, ScsiStatus } from '../wire/scsi.js';
import { COMMANDS } from './commands.js';
import { nexus, setup } from './test-util.js';

const STATUSES = new Set<number>([ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION, ScsiStatus.CONDITION_MET, ScsiStatus.RESERVATION_CONFLICT]);

test('fuzz: any CDB (known opcodes, small LBAs and lengths likely) with any Data-Out → a status, sense only with CHECK CONDITION, Data-In within 8 MiB', async () => {
  const ops = [...new Set([...COMMANDS.keys(), ...(Object.values(ScsiOp) as number[])])];
  const smallish = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 255 }));
  const cdbArb = fc.tuple(fc.constantFrom(...ops), fc.array(smallish, { minLength: 5, maxLength: 15 }), fc.uint8Array({ maxLength: 4 }))
    .map(([op, rest, extra]) => Buffer.from([op, ...rest, ...extra]));
  const dataArb = fc.option(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 4 }).map((n) => new Uint8Array(n * 512)), fc.uint8Array({ minLength: 24, maxLength: 24 })), { nil: undefined });
  const step = fc.tuple(cdbArb, dataArb, fc.boolean(), fc.integer({ min: 0, max: 30 }));
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
    const { dev, run, n } = await setup({ sizeBytes: 64 * 1024 });
    const n2 = nexus('iqn.2026-11.test:fuzz2');
    const lu = dev.lu(0)!;
    lu.nexusAdded(n2);
    for (const [c, data, second, event] of steps) {
      if (event === 0) lu.reset(second ? n2 : n);
      if (event === 1) lu.capacityChanged();
      if (event === 2) lu.nexusRemoved(n2);
      if (event === 3) lu.nexusAdded(n2);
      const r = await run(c, data ? Buffer.from(data) : undefined, second ? n2 : n, event === 4 ? 5 : 0);
      assert.ok(STATUSES.has(r.status), `status 0x${r.status.toString(16)} for ${c.toString('hex')}`);
      if (r.status === ScsiStatus.CHECK_CONDITION) assert.equal(r.sense?.length, FIXED_SENSE_LENGTH);
      else assert.equal(r.sense, undefined);
      assert.ok((r.dataIn?.length ?? 0) + (r.dataInParts ?? []).reduce((a, b) => a + b.length, 0) <= 8 << 20);
    }
  }), { numRuns: Number(process.env.FUZZ_RUNS ?? 400) });
});
