// node:test reporter that counts leaf tests and ends with the line CI reads:
// "N passed, N failed" (skipped and todo tests are counted apart).
export default async function* countReporter(source) {
  let passed = 0, failed = 0, skipped = 0;
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    // Suites (describe) and files report too; count only leaf tests.
    if (d.details?.type === 'suite') continue;
    if (d.skip || d.todo) { skipped++; continue; }
    if (event.type === 'test:pass') passed++;
    else { failed++; failures.push(`${d.file ?? ''} :: ${d.name}`); }
  }
  if (failures.length) yield `\nFailed tests:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`;
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
