/**
 * One lock table, one grace period: startNfsServer ties NLM's grace (grace.ts) and NFSv4's
 * (v4/state.ts) together, so a restart with clients of either protocol to reclaim holds back new
 * locks of both.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMemoryVfs } from '../../vfs/index.js';
import { GraceStore } from './grace.js';
import { startNfsServer } from './server.js';

test('a restart with NLM clients recorded puts NFSv4 in grace too; one with NFSv4 clients recorded, NLM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-grace-shared-'));
  const v = await createMemoryVfs();
  try {
    // Run 1 recorded an NLM client host.
    const file = join(dir, 'nlm.json');
    const g = await GraceStore.open({ file, graceMs: 60_000 });
    await g.add({ id: 'nlm:host1@127.0.0.1', kind: 'nlm', name: 'host1', address: '127.0.0.1' });
    await g.close();
    const a = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, udp: false, nlm: { stateFile: file, graceMs: 60_000, peerPortmapPort: 1, notifyAttempts: 1 }, stateDir: join(dir, 'v4-a') });
    try {
      assert.equal(a.nlm!.inGrace(), true);
      assert.equal(a.nfs4!.state.ownGrace(), false, 'no NFSv4 client was recorded');
      assert.equal(a.nfs4!.state.inGrace(), true, 'NFSv4 waits for the NLM reclaims');
    } finally {
      await a.close();
    }
    // Run 1 recorded an NFSv4 client (the stable record of v4/state.ts); NLM has none.
    await mkdir(join(dir, 'v4-b'));
    await writeFile(join(dir, 'v4-b', 'nfs4-clients.json'), JSON.stringify({ epoch: 1, clients: ['00aa'] }));
    const b = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, udp: false, nlm: { stateFile: join(dir, 'nlm-b.json'), graceMs: 60_000 }, stateDir: join(dir, 'v4-b'), graceSeconds: 60 });
    try {
      assert.equal(b.nfs4!.state.ownGrace(), true);
      assert.equal(b.nlm!.inGrace(), true, 'NLM waits for the NFSv4 reclaims');
    } finally {
      await b.close();
    }
  } finally {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  }
});
