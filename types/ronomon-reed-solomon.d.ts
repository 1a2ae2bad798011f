/**
 * Types for @ronomon/reed-solomon 6 (a native addon, no bundled types): Cauchy Reed-Solomon
 * over GF(2^w) as XOR bit-matrices. `encode` runs in libuv's thread pool and calls `end` when
 * done. Shard size = bufferSize / k = paritySize / m, a multiple of 8. Bit j of `sources` /
 * `targets` names shard j (j < k in buffer, j ≥ k in parity); targets ≤ m, sources ≥ k.
 */
declare module '@ronomon/reed-solomon' {
  export const MAX_K: number;
  export const MAX_M: number;
  /** An encoding context for k data + m parity shards; reusable concurrently. */
  export function create(k: number, m: number): Buffer;
  export function encode(
    context: Buffer,
    sources: number,
    targets: number,
    buffer: Uint8Array,
    bufferOffset: number,
    bufferSize: number,
    parity: Uint8Array,
    parityOffset: number,
    paritySize: number,
    end: (error?: Error | null) => void,
  ): void;
}
