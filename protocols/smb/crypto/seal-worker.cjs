// Piscina entry of the seal worker: CommonJS, so that piscina's require() never meets an ES
// module with top-level await (see raid/codec-worker.cjs for why that matters on Node 20).
'use strict';
const ready = import('./seal-worker.mjs');
ready.catch(() => {}); // reported by the first task instead
module.exports = async function sealTask(task) {
  return (await ready).default(task);
};
