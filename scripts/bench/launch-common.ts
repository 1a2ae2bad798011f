/**
 * What the benchmark launchers (webdav-server.ts, sftp-server.ts) share: flag reading, the
 * pluggable VFS (memory, or a module whose default export / `createVfs` makes one), and the
 * benchmark user, who is given the export root.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMemoryVfs, type PathVfs, type Principal } from '../../vfs/index.js';

/** `--name VALUE` from the command line, or dflt. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** Opens the VFS named by `which` ('memory' or a module path) and gives `owner` its root. */
export async function openBenchVfs(which: string, owner: Principal): Promise<{ paths: PathVfs; close(): Promise<void> }> {
  let inst: { paths: PathVfs; close(): Promise<void> };
  if (which === 'memory') inst = await createMemoryVfs();
  else {
    const mod = await import(pathToFileURL(resolve(which)).href);
    inst = await (mod.createVfs ?? mod.default)();
  }
  // The VFS root belongs to uid 0; the benchmark user gets it.
  await inst.paths.setattr({ uid: 0, gid: 0, groups: [], clientId: 'bench' }, '/', { uid: owner.uid, gid: owner.gid, mode: 0o755 });
  return inst;
}

/** Stops the server and the VFS on SIGTERM/SIGINT, then exits 0. */
export function stopOnSignal(srv: { close(): Promise<void> }, inst: { close(): Promise<void> }): void {
  const stop = async (): Promise<void> => { await srv.close(); await inst.close(); process.exit(0); };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
