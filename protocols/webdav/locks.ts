/**
 * WebDAV write locks (RFC 4918 §6, §7): an in-memory lock database keyed by URL path.
 * A lock on a file is also taken in the VFS lock table as a whole-file lock (write for
 * exclusive, read for shared), so that it conflicts with FUSE (and later NFS/SMB) byte-range
 * locks both ways. Locks do not survive a restart.
 */
import { randomUUID } from 'node:crypto';
import { isWithin } from './wire/url.js';

export type LockScope = 'exclusive' | 'shared';

/** One active lock (RFC 4918 §6.1 activelock). */
export interface DavLock {
  /** 'urn:uuid:…' lock token (RFC 4918 §6.5). */
  token: string;
  /** Decoded path of the lock root ('/a/b'). */
  root: string;
  /** Whether the root is a collection (for its href). */
  rootIsCollection: boolean;
  depth: 0 | 'infinity';
  scope: LockScope;
  /** The DAV:owner element as the client sent it, serialized (or '' if absent). */
  ownerXml: string;
  /** Name of the principal that created the lock; only it may use the token. */
  principal: string;
  /** Seconds granted. */
  timeoutSec: number;
  /** Epoch ms when the lock lapses. */
  expiresAt: number;
  /** A lock on a file is also held in the VFS lock table (whole file) under this inode. */
  vfsIno?: number;
}

/** In-memory lock database. `now` is injectable for tests (epoch ms). */
export class LockDb {
  private byToken = new Map<string, DavLock>();

  /** Called for every lock that goes (UNLOCK, expiry, DELETE/MOVE of its resource). */
  onRelease: ((lock: DavLock) => void) | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  private drop(token: string): boolean {
    const l = this.byToken.get(token);
    if (!l) return false;
    this.byToken.delete(token);
    this.onRelease?.(l);
    return true;
  }

  private purge(): void {
    const t = this.now();
    for (const [k, l] of this.byToken) if (l.expiresAt <= t) this.drop(k);
  }

  /** Number of active locks. */
  get size(): number { this.purge(); return this.byToken.size; }

  /** The lock with this token, if active. */
  get(token: string): DavLock | undefined {
    this.purge();
    return this.byToken.get(token);
  }

  /**
   * Locks whose scope covers `path` (RFC 4918 §7.4): rooted at it, or rooted at an ancestor
   * with Depth infinity.
   */
  covering(path: string): DavLock[] {
    this.purge();
    const out: DavLock[] = [];
    for (const l of this.byToken.values()) {
      if (l.root === path || (l.depth === 'infinity' && isWithin(path, l.root))) out.push(l);
    }
    return out;
  }

  /** Locks rooted at `path` or anywhere below it. */
  within(path: string): DavLock[] {
    this.purge();
    return [...this.byToken.values()].filter((l) => isWithin(l.root, path));
  }

  /**
   * Locks that would conflict with a new lock of `scope`/`depth` at `path`: any lock covering
   * the path or (for depth infinity) rooted below it, where either side is exclusive.
   */
  conflicts(path: string, scope: LockScope, depth: 0 | 'infinity'): DavLock[] {
    const seen = new Set<DavLock>(this.covering(path));
    if (depth === 'infinity') for (const l of this.within(path)) seen.add(l);
    return [...seen].filter((l) => scope === 'exclusive' || l.scope === 'exclusive');
  }

  /** Creates a lock (the caller checked conflicts). Returns it. */
  create(p: Omit<DavLock, 'token' | 'expiresAt'>): DavLock {
    const lock: DavLock = { ...p, token: `urn:uuid:${randomUUID()}`, expiresAt: this.now() + p.timeoutSec * 1000 };
    this.byToken.set(lock.token, lock);
    return lock;
  }

  /** Restarts a lock's timer with a new timeout (RFC 4918 §9.10.2). */
  refresh(lock: DavLock, timeoutSec: number): DavLock {
    lock.timeoutSec = timeoutSec;
    lock.expiresAt = this.now() + timeoutSec * 1000;
    return lock;
  }

  /** Removes a lock; returns whether it existed. */
  remove(token: string): boolean {
    return this.drop(token);
  }

  /** Drops every lock rooted at `path` or below (after DELETE or MOVE of that resource). */
  removeWithin(path: string): void {
    for (const l of this.within(path)) this.drop(l.token);
  }

  /** Seconds left on a lock (≥ 0). */
  secondsLeft(lock: DavLock): number {
    return Math.max(0, Math.ceil((lock.expiresAt - this.now()) / 1000));
  }
}
