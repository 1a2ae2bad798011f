/**
 * Issue 3, acceptance 5: a model-based random test (fast-check) of snapshots + quotas +
 * retention together. Random namespace and data operations run as root against the VFS (4 KiB
 * records) and against a plain model that knows records, a byte quota on root, a retention
 * directory /c (files sealed at close, for longer than the test) and snapshots. After every
 * step the outcome (ok or errno) and the quota usage must agree; at the end the live tree and
 * every snapshot must equal the model's copies, byte for byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, Errno, ROOT_CTX, VfsError, type VfsInstance } from './index.js';
import { compareTree, type Node as TreeNode, type Op as TreeOp, treeOps } from '../test/model-tree.js';

const RS = 4096;
const LIMIT = 12_000;
const names = fc.constantFrom('a', 'b', 'c');
// Half the paths land in the retention directory /c, so that sealed files meet every operation.
const pathArb = fc.oneof(
  fc.array(names, { minLength: 1, maxLength: 3 }).map((p) => '/' + p.join('/')),
  fc.array(names, { minLength: 1, maxLength: 2 }).map((p) => '/c/' + p.join('/')),
);

type Op = TreeOp | { op: 'snap' } | { op: 'dropSnap'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 14, arbitrary: treeOps(pathArb, { offset: 14000, len: 14000, size: 16000, seedMin: 1, weights: { mkdir: 2, write: 5, truncate: 2, unlink: 2, rmdir: 1, rename: 2 } }) },
  { weight: 1, arbitrary: fc.constant({ op: 'snap' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropSnap' as const), pick: fc.nat() }) },
);

let nextId = 1;
type File = { kind: 'file'; id: number; data: Buffer; lens: Map<number, number>; worm: number; sealed: boolean };
type Dir = { kind: 'dir'; id: number; children: Map<string, Node>; worm: number };
type Node = File | Dir;

class Model {
  root: Dir = { kind: 'dir', id: nextId++, children: new Map(), worm: 0 };
  used = 0;

  private walk(path: string): { parent: Dir; name: string; node: Node | undefined } {
    const parts = path.split('/').filter(Boolean);
    let cur: Node | undefined = this.root;
    for (const p of parts.slice(0, -1)) {
      if (!cur) throw Errno.ENOENT;
      if (cur.kind !== 'dir') throw Errno.ENOTDIR;
      cur = cur.children.get(p);
    }
    if (!cur) throw Errno.ENOENT;
    if (cur.kind !== 'dir') throw Errno.ENOTDIR;
    const name = parts[parts.length - 1]!;
    return { parent: cur, name, node: cur.children.get(name) };
  }

  /** Makes /c a retention directory (its own tag; what is created below inherits it). */
  retentionDir(path: string): void {
    const w = this.walk(path);
    const d = w.node as Dir;
    d.worm = d.id;
  }

  private allocated(f: File): number {
    let n = 0;
    for (const l of f.lens.values()) n += l;
    return n;
  }

  apply(o: Op): Errno | 'ok' {
    try {
      switch (o.op) {
        case 'mkdir': {
          const w = this.walk(o.path);
          if (w.node) return Errno.EEXIST;
          w.parent.children.set(w.name, { kind: 'dir', id: nextId++, children: new Map(), worm: w.parent.worm });
          return 'ok';
        }
        case 'write': {
          const w = this.walk(o.path);
          if (w.node?.kind === 'dir') return Errno.EISDIR;
          if (w.node?.sealed) return Errno.EPERM;
          const f: File = w.node ?? { kind: 'file', id: nextId++, data: Buffer.alloc(0), lens: new Map(), worm: w.parent.worm, sealed: false };
          w.parent.children.set(w.name, f);
          let result: Errno | 'ok' = 'ok';
          const end = o.offset + o.len;
          for (let at = o.offset; o.len > 0 && at < end;) {
            const idx = Math.floor(at / RS), inRec = at - idx * RS, n = Math.min(RS - inRec, end - at);
            const old = f.lens.get(idx) ?? 0;
            const len = Math.max(old, inRec + n);
            if (len - old > 0 && this.used + len - old > LIMIT) { result = Errno.EDQUOT; break; }
            this.used += len - old;
            f.lens.set(idx, len);
            const need = idx * RS + len;
            if (need > f.data.length) { const g = Buffer.alloc(need); f.data.copy(g); f.data = g; }
            f.data.fill(o.seed, at, at + n);
            at += n;
          }
          if (f.worm) f.sealed = true; // the last close seals it, failed or not
          return result;
        }
        case 'truncate': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind === 'dir') return Errno.EISDIR;
          const f = w.node;
          if (f.sealed) return Errno.EPERM;
          if (o.size < f.data.length) {
            for (const [idx, len] of [...f.lens]) {
              if (idx * RS >= o.size) { this.used -= len; f.lens.delete(idx); }
              else if (idx * RS + len > o.size) { this.used -= idx * RS + len - o.size; f.lens.set(idx, o.size - idx * RS); }
            }
          }
          const g = Buffer.alloc(o.size);
          f.data.copy(g, 0, 0, Math.min(o.size, f.data.length));
          f.data = g;
          return 'ok';
        }
        case 'unlink': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind === 'dir') return Errno.EISDIR;
          if (w.node.sealed) return Errno.EPERM;
          this.used -= this.allocated(w.node);
          w.parent.children.delete(w.name);
          return 'ok';
        }
        case 'rmdir': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind !== 'dir') return Errno.ENOTDIR;
          if (w.node.children.size) return Errno.ENOTEMPTY;
          w.parent.children.delete(w.name);
          return 'ok';
        }
        case 'rename': {
          // The VFS's order: both parents, the source, its retention, same file, into itself,
          // the target's retention and type, then the retention boundary.
          const a = this.walk(o.from);
          const b = this.walk(o.to);
          if (!a.node) return Errno.ENOENT;
          if (a.node.kind === 'file' && a.node.sealed) return Errno.EPERM;
          if (b.node === a.node) return 'ok';
          if (a.node.kind === 'dir' && a.parent !== b.parent && (o.to + '/').startsWith(o.from + '/')) return Errno.EINVAL;
          if (b.node) {
            if (b.node.kind === 'file' && b.node.sealed) return Errno.EPERM;
            if (a.node.kind === 'dir' && b.node.kind !== 'dir') return Errno.ENOTDIR;
            if (a.node.kind !== 'dir' && b.node.kind === 'dir') return Errno.EISDIR;
            if (b.node.kind === 'dir' && b.node.children.size) return Errno.ENOTEMPTY;
          }
          if (a.parent !== b.parent && a.node.worm !== a.node.id && a.node.worm !== b.parent.worm) return Errno.EXDEV;
          if (b.node?.kind === 'file') this.used -= this.allocated(b.node);
          a.parent.children.delete(a.name);
          b.parent.children.set(b.name, a.node);
          return 'ok';
        }
        default:
          return 'ok';
      }
    } catch (e) {
      return e as Errno;
    }
  }

  /** The tree as compareTree wants it (names and bytes only). */
  static plain(n: Node): TreeNode {
    return n.kind === 'file' ? { kind: 'file', data: Buffer.from(n.data) } : { kind: 'dir', children: new Map([...n.children].map(([k, v]) => [k, Model.plain(v)])) };
  }
}

async function run(v: VfsInstance, o: Op): Promise<Errno | 'ok'> {
  const { vfs, paths } = v;
  try {
    switch (o.op) {
      case 'mkdir': await paths.mkdir(ROOT_CTX, o.path); break;
      case 'write': {
        const { fh } = await paths.open(ROOT_CTX, o.path, { write: true, create: true });
        try {
          await vfs.write(ROOT_CTX, fh, o.offset, Buffer.alloc(o.len, o.seed));
          await vfs.flush(ROOT_CTX, fh);
        } finally {
          await vfs.release(ROOT_CTX, fh).catch(() => undefined);
        }
        break;
      }
      case 'truncate': await paths.setattr(ROOT_CTX, o.path, { size: o.size }); break;
      case 'unlink': await paths.unlink(ROOT_CTX, o.path); break;
      case 'rmdir': await paths.rmdir(ROOT_CTX, o.path); break;
      case 'rename': await paths.rename(ROOT_CTX, o.from, o.to); break;
      default: break;
    }
    return 'ok';
  } catch (e) {
    if (e instanceof VfsError) return e.errno;
    throw e;
  }
}

test('snapshots + quotas + retention agree with a model over random operations', async () => {
  let seq = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 80, size: 'medium' }), async (ops) => {
      const v = await createMemoryVfs({ recordSize: RS });
      const model = new Model();
      await v.impl.meta.setQuota('user', 0, { bytesHard: LIMIT, bytesSoft: 0, inodesHard: 0, inodesSoft: 0, graceMs: 0 });
      await v.paths.mkdir(ROOT_CTX, '/c');
      model.apply({ op: 'mkdir', path: '/c' });
      await v.impl.meta.setRetention((await v.paths.stat(ROOT_CTX, '/c')).ino, 3_600_000, 0);
      model.retentionDir('/c');
      const snaps: { name: string; tree: TreeNode }[] = [];
      for (const o of ops) {
        if (o.op === 'snap') {
          const name = `p${++seq}`;
          await v.snapshots.create(name);
          snaps.push({ name, tree: Model.plain(model.root) });
          continue;
        }
        if (o.op === 'dropSnap') {
          if (snaps.length) await v.snapshots.delete(snaps.splice(o.pick % snaps.length, 1)[0]!.name);
          continue;
        }
        const want = model.apply(o);
        const got = await run(v, o);
        assert.equal(got === 'ok' ? 'ok' : Errno[got], want === 'ok' ? 'ok' : Errno[want], JSON.stringify(o));
        assert.equal((await v.impl.meta.getQuota('user', 0)).usage.bytes, model.used, `quota usage after ${JSON.stringify(o)}`);
      }
      await compareTree(v.vfs, v.paths, Model.plain(model.root), '/');
      for (const s of snaps) {
        const sv = v.snapshotVfs(s.name);
        await compareTree(sv.vfs, sv.paths, s.tree, '/');
      }
      await v.close();
    }),
    { numRuns: 300 },
  );
});
