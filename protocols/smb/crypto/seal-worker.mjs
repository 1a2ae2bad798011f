// ES entry of the seal worker (see seal-worker.cjs): the TypeScript module, through tsx's loader
// when the worker did not inherit it (as raid/codec-worker.mjs).
let mod;
try {
  mod = await import('./seal-worker.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./seal-worker.ts?tsx');
}
export default mod.default;
