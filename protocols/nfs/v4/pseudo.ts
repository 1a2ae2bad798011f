/**
 * The NFSv4 pseudo-filesystem (RFC 7530 §7, RFC 8881 §7.3): PUTROOTFH's tree, whose directories
 * lead to each export's directory. Its nodes are the proper prefixes of the export paths (the
 * caller leaves out an export of "/", whose directory is the root for the clients it lists);
 * their handles use export id 0 (no export has it) and a node number that depends only on the
 * sorted list of export paths, so they stay valid across restarts of one config.
 */
import type { Export } from '../exports.js';

export const PSEUDO_EXPORT_ID = 0;

export interface PseudoNode {
  /** Node number (1 = the root), the "inode" in its file handle. */
  ino: number;
  path: string;
  parent: number;
  /** Child names → a pseudo node number or an export. */
  children: Map<string, { node?: number; exp?: Export }>;
}

export class PseudoFs {
  readonly nodes = new Map<number, PseudoNode>();

  /** `exports`: every export but one of "/". */
  constructor(exports: readonly Export[]) {
    const dirs = new Set<string>(['/']);
    for (const e of exports) {
      const parts = e.path.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) dirs.add('/' + parts.slice(0, i).join('/'));
    }
    const sorted = [...dirs].sort();
    const byPath = new Map<string, number>();
    sorted.forEach((p, i) => byPath.set(p, i + 1));
    const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
    for (const p of sorted) this.nodes.set(byPath.get(p)!, { ino: byPath.get(p)!, path: p, parent: byPath.get(parentOf(p)) ?? 1, children: new Map() });
    for (const p of sorted) if (p !== '/') this.nodes.get(byPath.get(parentOf(p))!)!.children.set(p.slice(p.lastIndexOf('/') + 1), { node: byPath.get(p)! });
    for (const e of exports) {
      const parent = this.nodes.get(byPath.get(parentOf(e.path))!)!;
      parent.children.set(e.path.slice(e.path.lastIndexOf('/') + 1), { exp: e });
    }
  }

  /** The pseudo node above an export's directory (for LOOKUPP there). */
  parentOfExport(e: Export): PseudoNode | undefined {
    const p = e.path.slice(0, e.path.lastIndexOf('/')) || '/';
    for (const n of this.nodes.values()) if (n.path === p) return n;
    return undefined;
  }
}
