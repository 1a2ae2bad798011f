#!/usr/bin/env node
// Builds the libfuse3 binding (native/fuse3) with node-gyp when Debian's libfuse3-dev is there;
// otherwise says how to get FUSE support and exits 0, so `npm ci` works on any machine (the
// gateway runs without FUSE; `dw mount` then explains what to install).
//   node scripts/build-native.mjs          (run by npm install / npm ci)
//   npm run build:fuse                     (the same, failing loudly)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const dir = fileURLToPath(new URL('../native/fuse3', import.meta.url));
const say = (m) => process.stderr.write(`dw: ${m}\n`);

if (spawnSync('pkg-config', ['--exists', 'fuse3']).status !== 0) {
  say('FUSE support not built: libfuse3-dev is missing (apt-get install -y libfuse3-dev fuse3, then npm run build:fuse)');
  process.exit(strict ? 1 : 0);
}
// npm hands scripts its own node-gyp; fall back to the one bundled with npm.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try { gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js', { paths: ['/usr/lib/node_modules/npm/node_modules', '/usr/local/lib/node_modules/npm/node_modules'] }); } catch { gyp = undefined; }
}
if (!gyp) {
  say('FUSE support not built: node-gyp not found (it comes with npm)');
  process.exit(strict ? 1 : 0);
}
const args = [gyp, 'rebuild', '--directory', dir];
// Build against the headers of the running Node (npm's nodedir setting, else its prefix), never a download.
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) {
  say('FUSE support not built: node-gyp failed (see above)');
  process.exit(strict ? 1 : 0);
}
say('FUSE support built (native/fuse3)');
