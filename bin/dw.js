#!/usr/bin/env node
// The `dw` command: registers tsx (TypeScript without a build step), then runs gateway/cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../gateway/cli.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
process.exit(code);
