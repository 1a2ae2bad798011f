#!/usr/bin/env node
// Counts iscsi-test-cu's (libiscsi) results per test from its output on stdin or a file: a test
// is FAILED when CUnit's verdict for it is FAILED, skipped when it has a [SKIPPED] line (CUnit counts those
// as passed), passed otherwise. Prints one line per failed/skipped test with -v, then
// `N passed, N skipped, N failed` (issue 8, acceptance 2).
//   iscsi-test-cu --dataloss --test=ALL URL | node scripts/iscsi-cu-count.mjs [-v] [--json]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('-'));
const text = readFileSync(file ?? 0, 'utf8');
const results = [];
let suite = '';
let cur;
for (const line of text.split('\n')) {
  const s = /^Suite: (.*)$/.exec(line);
  if (s) { suite = s[1].trim(); continue; }
  const t = /^ {2}Test: (.*?) \.\.\.(.*)$/.exec(line);
  if (t) {
    cur = { name: `${suite}.${t[1]}`, failed: false, skipped: false, reason: '' };
    results.push(cur);
  }
  if (!cur) continue;
  // CUnit's verdict is the bare word after the test's messages; a [FAILED] message after
  // "passed" (a teardown's complaint) does not fail the test, as CUnit counts it.
  if (/\[FAILED\]/.test(line)) cur.reason ||= line.replace(/^.*\[FAILED\]\s*/, '').trim();
  if (/(^|\.\.\.)FAILED\s*$/.test(line)) cur.failed = true;
  if (/\[SKIPPED\]/.test(line)) { cur.skipped = true; cur.reason ||= line.replace(/^.*\[SKIPPED\]\s*/, '').trim(); }
}
const failed = results.filter((r) => r.failed);
const skipped = results.filter((r) => !r.failed && r.skipped);
const passed = results.filter((r) => !r.failed && !r.skipped);
if (args.includes('--json')) {
  console.log(JSON.stringify({ passed: passed.map((r) => r.name), skipped: skipped.map((r) => ({ name: r.name, reason: r.reason })), failed: failed.map((r) => ({ name: r.name, reason: r.reason })) }));
} else {
  if (args.includes('-v')) {
    for (const r of failed) console.log(`FAILED  ${r.name}: ${r.reason}`);
    for (const r of skipped) console.log(`skipped ${r.name}: ${r.reason}`);
  }
  console.log(`${passed.length} passed, ${skipped.length} skipped, ${failed.length} failed`);
}
