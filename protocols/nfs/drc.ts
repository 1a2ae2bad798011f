/**
 * Duplicate request cache (the practice RFC 5531 section 8 leaves to servers, as Linux knfsd and
 * nfs-ganesha do it): a client that does not see a reply resends the same call with the same
 * xid. For an idempotent call that is harmless; for REMOVE, RENAME, CREATE ... the second
 * execution answers a wrong status (NFS3ERR_NOENT for a file the first call removed). So the
 * replies of non-idempotent procedures are kept for a while, keyed by the client's address, xid,
 * program, version, procedure and a hash of the call body; a retransmission while the first is
 * running waits for it, one after it gets the same reply. Bounded: `maxEntries` (oldest dropped
 * first) and `maxAgeMs`.
 *
 * The key holds the client's host address, not its port: a TCP client that reconnects after a
 * lost connection (the usual reason for a retransmission) may come from another port. The body
 * hash (SHA-1 over the call after the xid, at most the first 1 KiB, plus the length, as knfsd
 * checksums a prefix) tells apart two clients behind one address that happen to reuse an xid.
 */
import { createHash } from 'node:crypto';

/** Bytes of the call (after the xid) hashed into the key. */
const HASHED_PREFIX = 1024;

export interface ReplyCacheOptions {
  /** Entries kept at most (default 1024). */
  maxEntries?: number;
  /** Milliseconds a reply is kept (default 120 000). */
  maxAgeMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Entry {
  at: number;
  reply: Promise<Buffer | undefined>;
}

export class ReplyCache {
  private readonly map = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** Calls answered from the cache (or joined while running). */
  hits = 0;

  constructor(opts: ReplyCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 1024;
    this.maxAgeMs = opts.maxAgeMs ?? 120_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  /** The cache key of one call record from `host`. */
  static key(host: string, record: Buffer, xid: number, prog: number, vers: number, proc: number): string {
    const body = record.subarray(4, 4 + HASHED_PREFIX);
    const h = createHash('sha1').update(body).digest('base64');
    return `${host}|${xid}|${prog}|${vers}|${proc}|${record.length}|${h}`;
  }

  /**
   * The reply of the call `key`: the cached one (or the running one's) when present, else
   * `run()`'s, which is then cached. A reply that `keep` rejects (or a failure) is not kept, so a
   * retransmission runs again.
   */
  async run(key: string, run: () => Promise<Buffer | undefined>, keep: (reply: Buffer) => boolean = () => true): Promise<Buffer | undefined> {
    const now = this.now();
    this.expire(now);
    const hit = this.map.get(key);
    if (hit) {
      this.hits++;
      return hit.reply;
    }
    const reply = run();
    const entry: Entry = { at: now, reply };
    this.map.set(key, entry);
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
    try {
      const r = await reply;
      if (!r || !keep(r)) this.drop(key, entry);
      return r;
    } catch (err) {
      this.drop(key, entry);
      throw err;
    }
  }

  private drop(key: string, entry: Entry): void {
    if (this.map.get(key) === entry) this.map.delete(key);
  }

  /** Drops entries older than maxAgeMs (the map is in insertion order, so oldest first). */
  private expire(now: number): void {
    for (const [k, e] of this.map) {
      if (now - e.at < this.maxAgeMs) break;
      this.map.delete(k);
    }
  }
}
