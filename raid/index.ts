/**
 * The block store (raid/): erasure-coded blocks over device folders. See raid/README.md.
 * vfs/ uses it through BlockStore; gateway/ creates and opens pools.
 */
export { parseLayout, faultTolerance, type PoolLayout, type LayoutKind } from './layout.js';
export { createPool, openPool, poolExists, poolKeyStatus, rotatePoolKey, DEFAULT_SEGMENT_BYTES, type CreatePoolOptions, type OpenPoolOptions, type PoolKeyStatus, type UnlockRequest } from './pool.js';
export { DEFAULT_SCRYPT, parseKeyFile, wrongSecretMessage, type KeySource, type ScryptParams, type Secret } from './keys.js';
export { readPoolState, type PoolState, type ReencryptState } from './poolstate.js';
export { parseCompression, formatCompression, DEFAULT_NEW_POOL_COMPRESSION } from './compress.js';
export { MemoryBlockStore } from './memory.js';
export type { Logger } from './store.js';
export * from './types.js';
