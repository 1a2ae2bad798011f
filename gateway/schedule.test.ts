/** Snapshot schedules (gateway/schedule.ts): periods, due checks with a clock, retention. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs } from '../vfs/index.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { UsageError } from './errors.js';
import { loadSchedules, parseEvery, removeSchedule, runSchedules, setSchedule } from './schedule.js';

test('periods: 15m, 1h, 1d, 1w and hourly/daily/weekly; nonsense and too short are usage errors', () => {
  assert.equal(parseEvery('15m'), 900_000);
  assert.equal(parseEvery('1h'), 3_600_000);
  assert.equal(parseEvery('daily'), 86_400_000);
  assert.equal(parseEvery('weekly'), 604_800_000);
  for (const bad of ['', '1', 'h', '1s', '2m', '-1h', '1.5h', '99999h', 'yearly']) assert.throws(() => parseEvery(bad), UsageError, bad);
});

test('schedules persist; due ones are taken once per period; the oldest beyond keep go; other snapshots are untouched', async () => {
  const kv = new MemoryKv();
  await setSchedule(kv, { name: 'hourly', everyMs: 3_600_000, keep: 3 });
  await setSchedule(kv, { name: 'hourly', everyMs: 3_600_000, keep: 2 }); // replaces
  assert.deepEqual(await loadSchedules(kv), [{ name: 'hourly', everyMs: 3_600_000, keep: 2 }]);
  await assert.rejects(setSchedule(kv, { name: 'bad name', everyMs: 3_600_000, keep: 1 }), UsageError);
  await assert.rejects(setSchedule(kv, { name: 'x', everyMs: 3_600_000, keep: 0 }), UsageError);

  const v = await createMemoryVfs();
  await v.snapshots.create('manual');
  const list = await loadSchedules(kv);
  const t0 = Date.now();
  const at = (min: number) => new Date(t0 + min * 60_000);
  assert.deepEqual((await runSchedules(v.snapshots, list, at(0))).created.length, 1, 'the first one at once');
  assert.deepEqual(await runSchedules(v.snapshots, list, at(30)), { created: [], deleted: [] }, 'not due yet');
  // The snapshots' own clock says when the last one was taken: move "now" well past it.
  const r2 = await runSchedules(v.snapshots, list, at(61));
  assert.equal(r2.created.length, 1);
  const r3 = await runSchedules(v.snapshots, list, at(200));
  assert.equal(r3.created.length, 1);
  assert.equal(r3.deleted.length, 1, 'keep 2: the oldest goes');
  const names = v.snapshots.list().map((s) => s.name);
  assert.equal(names[0], 'manual', 'a snapshot not named by the schedule stays');
  assert.equal(names.length, 3);
  assert.ok(names.slice(1).every((n) => /^hourly-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/.test(n)), names.join(' '));
  await removeSchedule(kv, 'hourly');
  assert.deepEqual(await loadSchedules(kv), []);
  await assert.rejects(removeSchedule(kv, 'hourly'), /no schedule/);
  await v.close();
});
