import { Errno, VfsError } from './errno.js';
import type { LockRange } from './types.js';

/** A held lock: a range plus who holds it. */
export interface HeldLock extends LockRange {
  clientId: string;
}

interface Waiter {
  want: HeldLock;
  resolve: () => void;
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;
const sameHolder = (a: HeldLock, b: HeldLock) => a.owner === b.owner && a.clientId === b.clientId;

/**
 * The one byte-range lock table of the VFS (POSIX fcntl semantics, POSIX.1-2017 fcntl F_SETLK):
 * read locks share, write locks exclude, a holder's new lock replaces its own locks in the range
 * (splitting them), and unlock releases part of a range. Every protocol takes its locks here so
 * that they conflict across protocols.
 */
export class LockTable {
  private locks = new Map<number, HeldLock[]>();
  private waiters = new Map<number, Waiter[]>();

  /** The first lock of another holder that conflicts with `want`, or null. */
  conflict(ino: number, want: HeldLock): HeldLock | null {
    for (const l of this.locks.get(ino) ?? []) {
      if (sameHolder(l, want)) continue;
      if (!overlaps(l, want)) continue;
      if (l.type === 'write' || want.type === 'write') return l;
    }
    return null;
  }

  /**
   * Takes the lock, waiting for conflicts to clear when `wait` (waiters are woken in the order
   * they came when a lock on the inode goes); EAGAIN otherwise. An aborted `signal` ends the
   * wait: the promise rejects with the signal's reason and nothing is taken.
   */
  async lock(ino: number, want: HeldLock, wait: boolean, signal?: AbortSignal): Promise<void> {
    if (!(want.start >= 0) || !(want.end > want.start)) throw new VfsError(Errno.EINVAL, 'bad lock range');
    while (this.conflict(ino, want)) {
      if (!wait) throw new VfsError(Errno.EAGAIN, 'the range is locked by another holder');
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const q = this.waiters.get(ino) ?? [];
        const onAbort = (): void => {
          const list = this.waiters.get(ino);
          const i = list ? list.indexOf(w) : -1;
          if (i >= 0) list!.splice(i, 1);
          if (list && !list.length) this.waiters.delete(ino);
          reject(signal!.reason);
        };
        const w: Waiter = {
          want,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        q.push(w);
        this.waiters.set(ino, q);
      });
    }
    this.carve(ino, want);
    const list = this.locks.get(ino) ?? [];
    list.push({ ...want });
    this.locks.set(ino, list);
  }

  /** Releases the holder's locks within [start, end). */
  unlock(ino: number, range: Omit<HeldLock, 'type'>): void {
    this.carve(ino, Object.assign({}, range, { type: 'read' as const }));
    this.wake(ino);
  }

  /** Drops every lock of a client (connection closed). */
  releaseClient(clientId: string): void {
    for (const [ino, list] of this.locks) {
      const kept = list.filter((l) => l.clientId !== clientId);
      if (kept.length !== list.length) {
        if (kept.length) this.locks.set(ino, kept);
        else this.locks.delete(ino);
        this.wake(ino);
      }
    }
  }

  /** Drops every lock of one owner on one inode (close of the file that took them). */
  releaseOwner(ino: number, owner: string, clientId: string): void {
    this.unlock(ino, { owner, clientId, start: 0, end: Infinity });
  }

  held(ino: number): readonly HeldLock[] {
    return this.locks.get(ino) ?? [];
  }

  /** Removes the holder's locks over the range, keeping the parts outside it. */
  private carve(ino: number, r: HeldLock): void {
    const list = this.locks.get(ino);
    if (!list) return;
    const out: HeldLock[] = [];
    for (const l of list) {
      if (!sameHolder(l, r) || !overlaps(l, r)) { out.push(l); continue; }
      if (l.start < r.start) out.push(Object.assign({}, l, { end: r.start }));
      if (l.end > r.end) out.push(Object.assign({}, l, { start: r.end }));
    }
    if (out.length) this.locks.set(ino, out);
    else this.locks.delete(ino);
  }

  private wake(ino: number): void {
    const q = this.waiters.get(ino);
    if (!q) return;
    this.waiters.delete(ino);
    for (const w of q) w.resolve();
  }
}
