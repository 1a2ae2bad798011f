#!/usr/bin/env node
// The `dw` command: registers tsx (TypeScript without a build step), then runs gateway/cli.ts.
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// libuv's thread pool carries every shard read and write; the default 4 threads left the GET
// path waiting (8: about 15 % more on the 256 MiB WebDAV GET bench). Set before any pool use.
process.env.UV_THREADPOOL_SIZE ??= '8';
// On a machine of one or two cores V8's concurrent marking threads compete with the request path
// and the workers for the same cores: marking on the main thread, incrementally, cost less in all
// (NFSv3 200 MiB write, bench/nfs.sh: about 15 % faster on 2 cores). DW_CONCURRENT_MARKING=1/0 decides.
const marking = process.env.DW_CONCURRENT_MARKING ?? (availableParallelism() <= 2 ? '0' : '1');
if (marking === '0') setFlagsFromString('--no-concurrent-marking');
register();
const { main } = await import(new URL('../gateway/cli.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
process.exit(code);
