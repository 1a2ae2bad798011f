#!/usr/bin/env node
// The `dw` command: registers tsx (TypeScript without a build step), then runs gateway/cli.ts.
import { register } from 'tsx/esm/api';

// libuv's thread pool carries every shard read and write; the default 4 threads left the GET
// path waiting (8: about 15 % more on the 256 MiB WebDAV GET bench). Set before any pool use.
process.env.UV_THREADPOOL_SIZE ??= '8';
register();
const { main } = await import(new URL('../gateway/cli.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
process.exit(code);
