#!/usr/bin/env node
// The one-way import rule of ARCHITECTURE.md, as a lint that fails CI.
//   gateway/   -> anything below it (protocols, vfs, vfs/meta, raid)
//   protocols/ -> vfs/ (never vfs/meta/, raid/, gateway/ or another protocol)
//   vfs/       -> vfs/meta/, raid/ (never protocols/ or gateway/)
//   vfs/meta/  -> vfs/meta/ and the leaves vfs/errno.ts, vfs/types.ts (no imports of their own)
//   raid/      -> raid/, and the leaves vfs/errno.ts, vfs/meta/kv.ts, vfs/meta/keys.ts
//                 (its block table rows commit in the same KV batch as the extents)
//   nothing outside test/ and *.test.ts imports test/
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const LEAVES_FOR_RAID = ['vfs/errno.ts', 'vfs/meta/kv.ts', 'vfs/meta/keys.ts'];

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** Layer of a repo-relative path: 'protocols/<name>', 'vfs/meta', 'vfs', 'raid', 'gateway', 'test', or other. */
export function layerOf(rel) {
  const parts = rel.split('/');
  if (parts[0] === 'protocols') return `protocols/${parts[1]}`;
  if (parts[0] === 'vfs' && parts[1] === 'meta') return 'vfs/meta';
  return parts[0];
}

export function allowed(fromRel, toRel) {
  const from = layerOf(fromRel), to = layerOf(toRel);
  const isTest = fromRel.endsWith('.test.ts') || from === 'test' || from === 'scripts';
  if (to === 'test' && !isTest) return 'imports test/ from production code';
  if (isTest) return null;
  if (from === to) return null;
  if (from.startsWith('protocols/')) {
    if (to === 'vfs') return null;
    return `a protocol may import vfs/ only, not ${to}/`;
  }
  if (from === 'vfs') {
    if (to === 'vfs/meta' || to === 'raid') return null;
    return `vfs/ may import vfs/meta/ and raid/ only, not ${to}/`;
  }
  if (from === 'vfs/meta') {
    if (toRel === 'vfs/errno.ts' || toRel === 'vfs/types.ts') return null;
    return `vfs/meta/ may import only vfs/errno.ts and vfs/types.ts above it, not ${toRel}`;
  }
  if (from === 'raid') {
    if (LEAVES_FOR_RAID.includes(toRel)) return null;
    return `raid/ may import only ${LEAVES_FOR_RAID.join(', ')}, not ${toRel}`;
  }
  if (from === 'gateway' || from === 'bin') return null;
  return null;
}

function check() {
  const problems = [];
  const files = ['gateway', 'protocols', 'vfs', 'raid', 'bin'].flatMap((d) => {
    try { return walk(join(root, d), []); } catch { return []; }
  });
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const file of files) {
    const fromRel = relative(root, file).split(sep).join('/');
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(re)) {
      const spec = m[1] ?? m[2];
      if (!spec || !spec.startsWith('.')) continue;
      const toRel = relative(root, normalize(join(dirname(file), spec))).split(sep).join('/').replace(/\.js$/, '.ts');
      const why = allowed(fromRel, toRel);
      if (why) problems.push(`${fromRel}: imports ${spec}: ${why}`);
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = check();
  for (const p of problems) console.error(p);
  if (problems.length) { console.error(`import rule: ${problems.length} violation(s)`); process.exit(1); }
  console.log('import rule: ok');
}
