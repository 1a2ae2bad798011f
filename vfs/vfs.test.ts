import { vfsSuite } from '../test/suites/vfsSuite.js';
import { createMemoryVfs } from './index.js';

vfsSuite('memory engines, 64 KiB records', async () => ({ inst: await createMemoryVfs({ recordSize: 64 << 10 }), cleanup: async () => {} }));
vfsSuite('memory engines, 1 MiB records', async () => ({ inst: await createMemoryVfs(), cleanup: async () => {} }));
