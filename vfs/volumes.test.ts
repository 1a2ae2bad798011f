// volumeSuite (test/suites/volumeSuite.ts) on the memory engines and on the production engines:
// RocksDB metadata + an rs:4+2 pool of six device folders, reopened from disk for durability.
import { rocksPoolFixture } from '../test/suites/fixtures.js';
import { volumeSuite } from '../test/suites/volumeSuite.js';
import { createMemoryVfs } from './index.js';

volumeSuite('memory engines', async () => ({ inst: await createMemoryVfs(), cleanup: async () => {} }));

volumeSuite('RocksDB + rs:4+2 pool', () => rocksPoolFixture('dw-vol-'));
