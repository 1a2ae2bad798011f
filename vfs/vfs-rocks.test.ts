// vfsSuite on the production engines: RocksDB metadata + an rs:4+2 pool of six device folders
// with the worker-pool codec, reopened from disk for the durability case.
import { rocksPoolFixture } from '../test/suites/fixtures.js';
import { vfsSuite } from '../test/suites/vfsSuite.js';

vfsSuite('RocksDB + rs:4+2 pool', () => rocksPoolFixture('dw-vfs-'));
