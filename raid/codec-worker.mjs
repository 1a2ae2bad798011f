// Piscina entry for the codec worker. Worker threads do not always inherit tsx's loader
// hooks (they do under `node --import tsx`, not after tsx's register() in the main thread),
// so import the TypeScript worker directly and register tsx here only if that fails.
let mod;
try {
  mod = await import('./codec-worker.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./codec-worker.ts?tsx');
}
export default mod.default;
