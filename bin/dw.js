#!/usr/bin/env node
// The `dw` command: registers tsx (TypeScript without a build step), then runs gateway/cli.ts.
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// libuv's thread pool (shard reads and writes, fsyncs, RocksDB) keeps its default of 4 threads;
// UV_THREADPOOL_SIZE in the environment changes it. (It cannot be set from here: Node's ES module
// loader has started the pool before this file runs. 8 threads, measured 2026-11-30, were no
// faster for NFS writes, SMB puts, iSCSI writes or cold NFS reads: docs/benchmarks.md.)
// On a machine of one or two cores V8's concurrent marking threads compete with the request path
// and the workers for the same cores: marking on the main thread, incrementally, cost less in all
// (NFSv3 200 MiB write, bench/nfs.sh: about 15 % faster on 2 cores). DW_CONCURRENT_MARKING=1/0 decides.
const marking = process.env.DW_CONCURRENT_MARKING ?? (availableParallelism() <= 2 ? '0' : '1');
if (marking === '0') setFlagsFromString('--no-concurrent-marking');
register();
const { main } = await import(new URL('../gateway/cli.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
process.exit(code);
