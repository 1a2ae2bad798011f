/**
 * A plain in-memory model of a file tree, random operations over it, and the same operations
 * through the VFS path layer: shared by the model-based tests (vfs/model.test.ts,
 * vfs/snapshots.test.ts).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Errno, ROOT_CTX, VfsError } from '../vfs/index.js';
import type { PathVfs, Vfs } from '../vfs/index.js';

export type Node = { kind: 'dir'; children: Map<string, Node> } | { kind: 'file'; data: Buffer };

/** A deep copy of a model tree (what a snapshot of it must show later). */
export function cloneNode(n: Node): Node {
  return n.kind === 'file' ? { kind: 'file', data: Buffer.from(n.data) } : { kind: 'dir', children: new Map([...n.children].map(([k, v]) => [k, cloneNode(v)])) };
}

export const NAMES = ['a', 'b', 'c'];
export const pathArb = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((p) => '/' + p.join('/'));

export type Op =
  | { op: 'mkdir'; path: string }
  | { op: 'write'; path: string; offset: number; len: number; seed: number }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'unlink'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'rename'; from: string; to: string };

/** How treeOps draws: the largest write offset and length and truncate size, the least seed, and the weight of each op. */
export interface TreeOpShape {
  offset: number;
  len: number;
  size: number;
  seedMin?: number;
  weights?: { mkdir: number; write: number; truncate: number; unlink: number; rmdir: number; rename: number };
}

/** Random tree operations on paths drawn from `path` (the model tests of vfs/ share it). */
export function treeOps(path: fc.Arbitrary<string>, s: TreeOpShape): fc.Arbitrary<Op> {
  const w = s.weights ?? { mkdir: 1, write: 1, truncate: 1, unlink: 1, rmdir: 1, rename: 1 };
  return fc.oneof(
    { weight: w.mkdir, arbitrary: fc.record({ op: fc.constant('mkdir' as const), path }) },
    { weight: w.write, arbitrary: fc.record({ op: fc.constant('write' as const), path, offset: fc.integer({ min: 0, max: s.offset }), len: fc.integer({ min: 0, max: s.len }), seed: fc.integer({ min: s.seedMin ?? 0, max: 255 }) }) },
    { weight: w.truncate, arbitrary: fc.record({ op: fc.constant('truncate' as const), path, size: fc.integer({ min: 0, max: s.size }) }) },
    { weight: w.unlink, arbitrary: fc.record({ op: fc.constant('unlink' as const), path }) },
    { weight: w.rmdir, arbitrary: fc.record({ op: fc.constant('rmdir' as const), path }) },
    { weight: w.rename, arbitrary: fc.record({ op: fc.constant('rename' as const), from: path, to: path }) },
  );
}

export const opArb: fc.Arbitrary<Op> = treeOps(pathArb, { offset: 20000, len: 12000, size: 25000 });

export class Model {
  root: Node = { kind: 'dir', children: new Map() };
  private walk(path: string): { parent: Node | undefined; name: string; node: Node | undefined } {
    const parts = path.split('/').filter(Boolean);
    let cur: Node | undefined = this.root;
    for (const p of parts.slice(0, -1)) {
      if (!cur) throw Errno.ENOENT;
      if (cur.kind !== 'dir') throw Errno.ENOTDIR;
      cur = cur.children.get(p);
    }
    const name = parts[parts.length - 1]!;
    if (!cur) throw Errno.ENOENT;
    if (cur.kind !== 'dir') throw Errno.ENOTDIR;
    return { parent: cur, name, node: cur.children.get(name) };
  }
  apply(o: Op): Errno | 'ok' {
    try {
      switch (o.op) {
        case 'mkdir': {
          const w = this.walk(o.path);
          if (w.node) return Errno.EEXIST;
          (w.parent as { children: Map<string, Node> }).children.set(w.name, { kind: 'dir', children: new Map() });
          return 'ok';
        }
        case 'write': {
          const w = this.walk(o.path);
          if (w.node?.kind === 'dir') return Errno.EISDIR;
          const f = (w.node ?? { kind: 'file', data: Buffer.alloc(0) }) as { kind: 'file'; data: Buffer };
          const end = o.offset + o.len;
          if (o.len > 0 && end > f.data.length) { const g = Buffer.alloc(end); f.data.copy(g); f.data = g; }
          Buffer.alloc(o.len, o.seed).copy(f.data, o.offset);
          (w.parent as { children: Map<string, Node> }).children.set(w.name, f);
          return 'ok';
        }
        case 'truncate': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind === 'dir') return Errno.EISDIR;
          const g = Buffer.alloc(o.size); w.node.data.copy(g, 0, 0, Math.min(o.size, w.node.data.length)); w.node.data = g;
          return 'ok';
        }
        case 'unlink': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind === 'dir') return Errno.EISDIR;
          (w.parent as { children: Map<string, Node> }).children.delete(w.name);
          return 'ok';
        }
        case 'rmdir': {
          const w = this.walk(o.path);
          if (!w.node) return Errno.ENOENT;
          if (w.node.kind !== 'dir') return Errno.ENOTDIR;
          if (w.node.children.size) return Errno.ENOTEMPTY;
          (w.parent as { children: Map<string, Node> }).children.delete(w.name);
          return 'ok';
        }
        case 'rename': {
          // Like Linux renameat2: both parents are resolved before the source is looked up.
          const a = this.walk(o.from);
          const b = this.walk(o.to);
          if (!a.node) return Errno.ENOENT;
          if (a.node.kind === 'dir' && (o.to + '/').startsWith(o.from + '/') && o.to !== o.from) return Errno.EINVAL;
          if (b.node === a.node) return 'ok';
          if (b.node) {
            if (a.node.kind === 'dir' && b.node.kind !== 'dir') return Errno.ENOTDIR;
            if (a.node.kind !== 'dir' && b.node.kind === 'dir') return Errno.EISDIR;
            if (b.node.kind === 'dir' && b.node.children.size) return Errno.ENOTEMPTY;
          }
          (a.parent as { children: Map<string, Node> }).children.delete(a.name);
          (b.parent as { children: Map<string, Node> }).children.set(b.name, a.node);
          return 'ok';
        }
      }
    } catch (e) {
      return e as Errno;
    }
  }
}

export async function run(vfs: Vfs, paths: PathVfs, o: Op): Promise<Errno | 'ok'> {
  const ctx = ROOT_CTX;
  try {
    switch (o.op) {
      case 'mkdir': await paths.mkdir(ctx, o.path); break;
      case 'write': {
        const { fh } = await paths.open(ctx, o.path, { write: true, create: true });
        try { await vfs.write(ctx, fh, o.offset, Buffer.alloc(o.len, o.seed)); } finally { await vfs.release(ctx, fh); }
        break;
      }
      case 'truncate': await paths.setattr(ctx, o.path, { size: o.size }); break;
      case 'unlink': await paths.unlink(ctx, o.path); break;
      case 'rmdir': await paths.rmdir(ctx, o.path); break;
      case 'rename': await paths.rename(ctx, o.from, o.to); break;
    }
    return 'ok';
  } catch (e) {
    if (e instanceof VfsError) return e.errno;
    throw e;
  }
}

export async function compareTree(vfs: Vfs, paths: PathVfs, node: Node, path: string): Promise<void> {
  if (node.kind === 'file') {
    const { fh, attr } = await paths.open(ROOT_CTX, path, { read: true });
    const b = await vfs.read(ROOT_CTX, fh, 0, attr.size + 10);
    await vfs.release(ROOT_CTX, fh);
    assert.ok(b.equals(node.data), `content of ${path}`);
    return;
  }
  const entries = await paths.readdir(ROOT_CTX, path);
  assert.deepEqual(entries.map((e) => e.name).sort(), [...node.children.keys()].sort(), `entries of ${path}`);
  for (const [name, child] of node.children) await compareTree(vfs, paths, child, `${path === '/' ? '' : path}/${name}`);
}

