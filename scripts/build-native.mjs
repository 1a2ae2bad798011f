#!/usr/bin/env node
// Builds our two N-API addons with node-gyp, against the running Node's headers:
//   native/sys    madvise for the record arena's memory (transparent huge pages), uncached
//                 device appends (pwritev2 RWF_DONTCACHE), Reed-Solomon parity of small
//                 blocks in the calling thread and AES-GCM decryption in place for SMB3 (through
//                 the OpenSSL Node is built with); needs nothing but a C++ compiler. Without it the
//                 arena works in 4 KiB pages, appends stay in the page cache and all parity is
//                 computed by @ronomon/reed-solomon on libuv's pool.
//   native/fuse3  the libfuse3 binding, when Debian's libfuse3-dev is there; otherwise says how
//                 to get FUSE support (the gateway runs without FUSE; `dw mount` then explains
//                 what to install).
// Exits 0 when an addon cannot be built, so `npm ci` works on any machine.
//   node scripts/build-native.mjs          (run by npm install / npm ci)
//   npm run build:fuse                     (the same, failing loudly when FUSE support is not built)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const say = (m) => process.stderr.write(`dw: ${m}\n`);

// npm hands scripts its own node-gyp; fall back to the one bundled with npm.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try { gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js', { paths: ['/usr/lib/node_modules/npm/node_modules', '/usr/local/lib/node_modules/npm/node_modules'] }); } catch { gyp = undefined; }
}
// Build against the headers of the running Node (npm's nodedir setting, else its prefix), never a download.
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');

/** Runs node-gyp rebuild in native/NAME; true when it built. */
function build(name) {
  const args = [gyp, 'rebuild', '--directory', fileURLToPath(new URL(`../native/${name}`, import.meta.url))];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  return spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
}

if (!gyp) {
  say('native addons not built: node-gyp not found (it comes with npm); FUSE support, huge pages for record memory, uncached appends and in-thread parity are off');
  process.exit(strict ? 1 : 0);
}

if (build('sys')) say('huge pages, uncached appends and in-thread parity built (native/sys)');
else say('native/sys not built: node-gyp failed (see above); record memory stays in 4 KiB pages, device appends in the page cache, parity on libuv\'s pool');

if (spawnSync('pkg-config', ['--exists', 'fuse3']).status !== 0) {
  say('FUSE support not built: libfuse3-dev is missing (apt-get install -y libfuse3-dev fuse3, then npm run build:fuse)');
  process.exit(strict ? 1 : 0);
}
if (!build('fuse3')) {
  say('FUSE support not built: node-gyp failed (see above)');
  process.exit(strict ? 1 : 0);
}
say('FUSE support built (native/fuse3)');
