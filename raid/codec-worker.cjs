// Piscina's worker loads its handler with require() first and falls back to import() when that
// throws. On Node 20.20 require() of an ES module with top-level await (codec-worker.mjs) can
// abort the process inside V8 ("v8::Module::IsGraphAsync must be used on an instantiated
// module") instead of throwing, so piscina is given this CommonJS entry: require() never meets
// an ES module, and the ES entry is loaded with import() as soon as the worker starts.
'use strict';
const ready = import('./codec-worker.mjs');
// Keep a load failure from being reported as unhandled before the first task awaits it; the
// task then rejects with the original error.
ready.catch(() => {});
module.exports = async function codecTask(task) {
  return (await ready).default(task);
};
