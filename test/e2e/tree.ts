/** Helpers for end-to-end tests that move real trees: build one, and take its manifest. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** path (relative, '/'-separated) → 'f:<sha256>' | 'l:<target>' | 'd' */
export type Manifest = Map<string, string>;

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Walks a local tree without following symlinks. */
export async function manifest(root: string): Promise<Manifest> {
  const out: Manifest = new Map();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name), r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      if (st.isSymbolicLink()) out.set(r, `l:${await readlink(p)}`);
      else if (st.isDirectory()) { out.set(r, 'd'); await walk(p, r); }
      else if (st.isFile()) out.set(r, `f:${await sha256File(p)}`);
    }
  };
  await walk(root, '');
  return out;
}

/** The entries of a manifest of one kind ('f', 'l' or 'd'). */
export function only(m: Manifest, kind: 'f' | 'l' | 'd'): Manifest {
  return new Map([...m].filter(([, v]) => v[0] === kind));
}

/** Differences between two manifests, at most `max` lines; [] when equal. */
export function diff(want: Manifest, got: Manifest, max = 20): string[] {
  const out: string[] = [];
  for (const [k, v] of want) if (got.get(k) !== v) out.push(`${k}: want ${v.slice(0, 20)} got ${got.get(k)?.slice(0, 20) ?? 'nothing'}`);
  for (const k of got.keys()) if (!want.has(k)) out.push(`${k}: unexpected`);
  return out.slice(0, max);
}

/** Copies local folders into `dest/<basename>` with cp -a (symlinks kept as links). */
export function copyTrees(sources: string[], dest: string): void {
  for (const s of sources) {
    const r = spawnSync('cp', ['-a', s, dest], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cp -a ${s}: ${r.stderr}`);
  }
}

/** Writes `bytes` of random data to path with head -c from /dev/urandom (streams, no memory). */
export function randomFile(path: string, bytes: number): void {
  const r = spawnSync('sh', ['-c', `head -c ${bytes} /dev/urandom > '${path}'`]);
  if (r.status !== 0) throw new Error(`random file ${path}: ${r.stderr}`);
}
