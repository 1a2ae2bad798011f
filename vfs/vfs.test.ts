import { vfsSuite } from '../test/suites/vfsSuite.js';
import { randomBytes } from 'node:crypto';
import { createMemoryVfs } from './index.js';
import { nameCipher } from './meta/names.js';

vfsSuite('memory engines, 64 KiB records', async () => ({ inst: await createMemoryVfs({ recordSize: 64 << 10 }), cleanup: async () => {} }));
vfsSuite('memory engines, 1 MiB records', async () => ({ inst: await createMemoryVfs(), cleanup: async () => {} }));
vfsSuite('memory engines, names encrypted', async () => ({ inst: await createMemoryVfs({ recordSize: 64 << 10, names: nameCipher(randomBytes(32)) }), cleanup: async () => {} }));
