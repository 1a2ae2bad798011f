#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node's test runner (through tsx),
// prints the spec reporter's output and ends with "N passed, N failed, N skipped".
//   node scripts/run-tests.mjs            all tests (unit + e2e with real clients)
//   node scripts/run-tests.mjs --unit     skip test/e2e
//   node scripts/run-tests.mjs FILE...    only these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const explicit = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = explicit.length ? explicit : ['raid', 'vfs', 'protocols', 'gateway', 'test', 'scripts'].flatMap((d) => {
  try { return walk(join(root, d), []); } catch { return []; }
});
if (unitOnly) files = files.filter((f) => !f.startsWith('test/e2e'));
files.sort();
if (!files.length) { console.log('no test files found'); console.log('0 passed, 1 failed'); process.exit(1); }

const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=1',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/count-reporter.mjs', '--test-reporter-destination=stdout',
  ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=4096' } });
process.exit(r.status ?? 1);
