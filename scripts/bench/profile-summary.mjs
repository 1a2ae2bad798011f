#!/usr/bin/env node
/**
 * Summarizes V8 CPU profiles (`node --cpu-prof`, e.g. from `scripts/bench/all.sh --cpu-prof DIR`):
 * where one thread's time goes, as a share of the profile's wall time.
 *   node scripts/bench/profile-summary.mjs FILE.cpuprofile... [--top N]
 * Prints per file: wall seconds, idle share (the thread waiting: disk, RocksDB's own threads,
 * the network, the client), then self time by area (our layers by folder, node_modules package,
 * node internals, GC) and the top N functions by self and by inclusive time.
 * Inclusive time counts a sample once per distinct function on its stack (recursion-safe).
 * Time counted runs from the first sample inside a named function of protocols/ (the first
 * request; module loading and start-up before it are left out) to the end; a piscina worker
 * parked in atomicsWaitLoop counts as idle. Profile the gateway alone (all.sh --targets ours) so
 * that idle means waiting for the disk, RocksDB's threads or the client, not another server's turn.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let top = 15;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error('usage: profile-summary.mjs FILE.cpuprofile... [--top N]');
  process.exit(2);
}

/** Area of a call frame: our folder (protocols/webdav, vfs/meta, ...), a package, or node/V8. */
function area(cf) {
  const u = cf.url ?? '';
  if (!u) return cf.functionName && cf.functionName.startsWith('(') ? cf.functionName : '(native/V8)';
  const nm = u.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return `npm:${nm[1]}`;
  if (u.startsWith('node:')) return 'node internals';
  const ours = u.match(/\/(protocols\/[^/]+|vfs\/meta|vfs|raid|gateway|scripts\/bench)\/[^/]+$/);
  if (ours) return ours[1];
  return u.replace(/^file:\/\//, '');
}

function label(cf) {
  const file = (cf.url ?? '').replace(/^.*\/(node_modules\/)?/, '');
  return `${cf.functionName || '(anonymous)'} ${file ? `${file}:${cf.lineNumber + 1}` : ''}`.trim();
}

function pct(x, total) { return `${(x / 1e6).toFixed(2).padStart(6)} s ${((100 * x) / total).toFixed(1).padStart(5)}%`; }

for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // time per sample from timeDeltas (µs); sample i lasts until sample i+1
  const inProtocol = (id) => {
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur).callFrame;
      if (/\/protocols\//.test(c.url ?? '') && c.functionName && c.functionName !== '(anonymous)') return true;
    }
    return false;
  };
  let first = p.samples.findIndex(inProtocol);
  if (first < 0) first = 0;
  const self = new Map();
  let wall = 0;
  for (let i = first; i < p.samples.length; i++) {
    const dt = Math.max(0, p.timeDeltas[i + 1] ?? 0);
    wall += dt;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const areas = new Map();
  const selfFn = new Map();
  const inclFn = new Map();
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === 'atomicsWaitLoop') { idle += us; continue; }
    const a = area(cf);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const l = label(cf);
    selfFn.set(l, (selfFn.get(l) ?? 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur).callFrame;
      if (c.functionName === '(root)') break;
      const k = label(c);
      if (seen.has(k)) continue;
      seen.add(k);
      inclFn.set(k, (inclFn.get(k) ?? 0) + us);
    }
  }
  const busy = wall - idle;
  console.log(`\n${f}\n  wall ${(wall / 1e6).toFixed(1)} s, busy ${pct(busy, wall).trim()}, idle ${pct(idle, wall).trim()}${first > 0 ? ' (from the first request)' : ''}`);
  console.log('  self time by area (share of busy):');
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`    ${pct(us, busy)}  ${a}`);
  console.log(`  top ${top} functions, self (share of busy):`);
  for (const [l, us] of [...selfFn].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`    ${pct(us, busy)}  ${l}`);
  console.log(`  top ${top} functions, inclusive (share of busy):`);
  for (const [l, us] of [...inclFn].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`    ${pct(us, busy)}  ${l}`);
}
