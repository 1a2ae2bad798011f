/** grace.ts: state numbers across opens, the grace rule, durable records, atomic writes. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GraceStore, writeAtomic } from './grace.js';

const dirs: string[] = [];
const tmp = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'dw-grace-'));
  dirs.push(d);
  return d;
};
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

test('without a file: state 1, never in grace, records in memory only', async () => {
  const g = await GraceStore.open({ graceMs: 10_000 });
  assert.equal(g.state, 1);
  assert.equal(g.inGrace(), false);
  await g.add({ id: 'nlm:a@1.2.3.4', kind: 'nlm', name: 'a', address: '1.2.3.4' });
  assert.equal(g.clients().length, 1);
  assert.equal((await GraceStore.open({})).previous().length, 0);
});

test('with a file: odd state numbers that grow, previous clients, grace only when there were clients', async () => {
  const file = join(await tmp(), 'sub', 'state.json');
  let t = 1000;
  const now = () => t;
  const g1 = await GraceStore.open({ file, graceMs: 500, now });
  assert.equal(g1.state % 2, 1);
  assert.equal(g1.inGrace(), false, 'nobody to reclaim on a first start');
  await g1.add({ id: 'nlm:a@10.0.0.1', kind: 'nlm', name: 'a', address: '10.0.0.1' });
  await g1.add({ id: 'nfs4:beef', kind: 'nfs4', name: 'b', address: '10.0.0.2', data: { verifier: 'x' } });
  await g1.close();
  const g2 = await GraceStore.open({ file, graceMs: 500, now });
  assert.equal(g2.state, g1.state + 2);
  assert.deepEqual(g2.previous().map((c) => c.id).sort(), ['nfs4:beef', 'nlm:a@10.0.0.1']);
  assert.deepEqual(g2.previous().find((c) => c.kind === 'nfs4')?.data, { verifier: 'x' });
  assert.ok(g2.inGrace());
  assert.equal(g2.graceLeftMs(), 500);
  t += 600;
  assert.equal(g2.inGrace(), false);
  // One client came back during grace; ending grace drops the other.
  await g2.add({ id: 'nlm:a@10.0.0.1', kind: 'nlm', name: 'a', address: '10.0.0.1' });
  await g2.endGrace();
  assert.deepEqual(g2.clients().map((c) => c.id), ['nlm:a@10.0.0.1']);
  const onDisk = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(onDisk.state, g2.state);
  assert.deepEqual(onDisk.clients.map((c: { id: string }) => c.id), ['nlm:a@10.0.0.1']);
  await g2.remove('nlm:a@10.0.0.1');
  assert.equal(JSON.parse(await readFile(file, 'utf8')).clients.length, 0);
  const n = await g2.bump();
  assert.equal(n, g2.state);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).state, n);
  await g2.close();
  const g3 = await GraceStore.open({ file, graceMs: 500, now });
  assert.equal(g3.state, n + 2);
  assert.equal(g3.inGrace(), false);
  await g3.close();
});

test('a file that is not a state file stops the open; writes leave no temporary files', async () => {
  const d = await tmp();
  const bad = join(d, 'bad.json');
  await writeFile(bad, '{"hello": 1}');
  await assert.rejects(GraceStore.open({ file: bad }), /not a DataWarehouse lock state file/);
  await writeFile(bad, 'not json');
  await assert.rejects(GraceStore.open({ file: bad }), SyntaxError);
  const f = join(d, 'x.json');
  await Promise.all([writeAtomic(f, 'one'), writeAtomic(f, 'two')]);
  assert.ok(['one', 'two'].includes(await readFile(f, 'utf8')));
  assert.deepEqual((await readdir(d)).sort(), ['bad.json', 'x.json']);
  const g = await GraceStore.open({ file: join(d, 's.json') });
  await Promise.all([1, 2, 3, 4].map((i) => g.add({ id: `nlm:h${i}@1.1.1.${i}`, kind: 'nlm', name: `h${i}`, address: `1.1.1.${i}` })));
  assert.equal(JSON.parse(await readFile(join(d, 's.json'), 'utf8')).clients.length, 4, 'the last write holds every record');
  await g.close();
});
