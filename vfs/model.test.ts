/**
 * Model-based random test of the VFS (fast-check): random sequences of namespace and data
 * operations run against the VFS path layer and a plain in-memory model of a tree; after every
 * step the outcome (ok or errno) must agree, and at the end the whole tree and every byte must.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, Errno } from './index.js';
import { compareTree, Model, opArb, run } from '../test/model-tree.js';

test('VFS agrees with a model tree over random operation sequences', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const { vfs, paths } = await createMemoryVfs({ recordSize: 4096 });
      const model = new Model();
      for (const o of ops) {
        const want = model.apply(o);
        const got = await run(vfs, paths, o);
        assert.equal(got === 'ok' ? 'ok' : Errno[got], want === 'ok' ? 'ok' : Errno[want], JSON.stringify(o));
      }
      await compareTree(vfs, paths, model.root, '/');
    }),
    { numRuns: 150 },
  );
});
