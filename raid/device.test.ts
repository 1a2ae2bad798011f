/** Device: what a sync promises when several callers sync at once. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Device, writeLabel } from './device.js';

test('a sync called while another runs resolves only after that one (it may hold the caller\'s segments)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-device-'));
  try {
    const poolId = randomBytes(16);
    await writeLabel(dir, { format: 1, poolId: poolId.toString('hex'), index: 0 });
    let next = 1;
    const dev = new Device(0, dir, poolId, 1 << 20, async () => next++);
    await dev.open(poolId.toString('hex'));
    assert.equal(dev.state, 'online');
    for (let round = 0; round < 20; round++) {
      const w = await dev.append([randomBytes(4096)]);
      w.unpin();
      // The first sync takes the dirty segment; the second finds nothing dirty but must still
      // wait until the first one's fdatasync is done: its caller's bytes are in that segment.
      let firstDone = false;
      const first = dev.sync().then(() => { firstDone = true; });
      await dev.sync();
      assert.equal(firstDone, true, `round ${round}: the second sync returned before the first finished`);
      await first;
    }
    await dev.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
