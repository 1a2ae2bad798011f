import type { KvStore } from '../vfs/meta/kv.js';

/** Id allocator leasing ranges from a KV counter, so put() rarely runs a transaction. */
export class Lease {
  private ranges: [number, number][] = [];
  private pending: Promise<void> | undefined;
  constructor(private kv: KvStore, private key: Buffer, private size: number) {}
  private refill(): Promise<void> {
    this.pending ??= this.kv.txn((tx) => tx.incrBy(this.key, BigInt(this.size)))
      .then((high) => { this.ranges.push([Number(high) - this.size + 1, Number(high) + 1]); })
      .finally(() => { this.pending = undefined; });
    return this.pending;
  }
  private remaining(): number {
    return this.ranges.reduce((a, r) => a + r[1] - r[0], 0);
  }
  /** The next number (≥ 1, never handed out twice in the pool's life). */
  async take(): Promise<number> {
    for (;;) {
      const r = this.ranges[0];
      if (r && r[0] < r[1]) {
        const v = r[0]++;
        if (this.remaining() < this.size / 4 && !this.pending) void this.refill().catch(() => undefined);
        return v;
      }
      if (r) { this.ranges.shift(); continue; }
      await this.refill();
    }
  }
  /** Leases a first range now (at open, outside any caller's transaction). */
  async prime(): Promise<void> {
    if (!this.remaining()) await this.refill();
  }
}
