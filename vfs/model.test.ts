/**
 * Model-based random test of the VFS (fast-check): random sequences of namespace and data
 * operations run against the VFS path layer and a plain in-memory model of a tree; after every
 * step the outcome (ok or errno) must agree, and at the end the whole tree and every byte must.
 * A second run uses names that fold alike and compares caseless lookups too (lookupCaseless).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, Errno, ROOT_CTX, VfsError } from './index.js';
import { decodeCookieRow } from './meta/inode.js';
import { foldedKey } from './meta/fold.js';
import { PREFIX, readU64 } from './meta/keys.js';
import { compareTree, Model, type Node, opArb, run, treeOps } from '../test/model-tree.js';

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

/** Names that fold alike in pairs ('a'/'A', 'ä'/'Ä'), and one that folds with none ('ß'). */
const CASE_NAMES = ['a', 'A', 'ä', 'Ä', 'ß'];
const casePathArb = fc.array(fc.constantFrom(...CASE_NAMES), { minLength: 1, maxLength: 2 }).map((p) => '/' + p.join('/'));
const caseOpArb = treeOps(casePathArb, { offset: 100, len: 100, size: 100 });
const PROBES = [...CASE_NAMES, 'b', 'SS'];

/** The model's caseless lookup: the exact child, else the first (UTF-8 byte order) whose upper case per code unit is the same. */
function modelCaseless(dir: Map<string, Node>, name: string): { name: string; ambiguous: boolean } | undefined {
  if (dir.has(name)) return { name, ambiguous: false };
  const up = (s: string) => [...s].map((c) => (c.toUpperCase().length === 1 ? c.toUpperCase() : c)).join('');
  const alike = [...dir.keys()].filter((n) => up(n) === up(name)).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return alike.length ? { name: alike[0]!, ambiguous: alike.length > 1 } : undefined;
}

/** Every directory of the model tree with its path. */
function modelDirs(n: Node, path: string, out: [string, Map<string, Node>][] = []): [string, Map<string, Node>][] {
  if (n.kind !== 'dir') return out;
  out.push([path, n.children]);
  for (const [name, c] of n.children) modelDirs(c, `${path === '/' ? '' : path}/${name}`, out);
  return out;
}

test('caseless lookups agree with the model over random operations on names that fold alike; the index has one row per entry', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(caseOpArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const { vfs, paths, impl, snapshots } = await createMemoryVfs({ recordSize: 4096 });
      const model = new Model();
      for (const o of ops) {
        const want = model.apply(o);
        const got = await run(vfs, paths, o);
        assert.equal(got === 'ok' ? 'ok' : Errno[got], want === 'ok' ? 'ok' : Errno[want], JSON.stringify(o));
        for (const [path, children] of modelDirs(model.root, '/')) {
          const dir = await paths.stat(ROOT_CTX, path);
          for (const p of PROBES) {
            const m = modelCaseless(children, p);
            const v = await vfs.lookupCaseless(ROOT_CTX, dir.ino, p).then((r) => ({ name: r.name, ambiguous: r.ambiguous }), (e: unknown) => {
              if (e instanceof VfsError && e.errno === Errno.ENOENT) return undefined;
              throw e;
            });
            assert.deepEqual(v, m, `caseless ${JSON.stringify(p)} in ${path} after ${JSON.stringify(o)}`);
          }
        }
      }
      await compareTree(vfs, paths, model.root, '/');
      // The 'F' rows are exactly those of the 'd' rows (none left behind by unlink, rename, rmdir).
      const rows = async (prefix: number) => {
        const out: Buffer[] = [];
        for await (const e of snapshots.scan(Buffer.of(prefix), Buffer.of(prefix + 1))) out.push(prefix === PREFIX.folded ? e[0] : foldedKey(impl.meta.names, readU64(e[0], 1), decodeCookieRow(e[1]).name.toString('utf8')));
        return out.map((k) => k.toString('hex')).sort();
      };
      assert.deepEqual(await rows(PREFIX.folded), await rows(PREFIX.dirCookie));
    }),
    { numRuns: 100 },
  );
});
