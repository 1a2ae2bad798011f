/**
 * A POSIX conformance suite of our own (issue 4): each case is a list of file system calls made
 * as root or as other users (uids 1001/1002, groups 2001/2002) in a fresh folder, and its result
 * is the outcome of every call (ok, a value, or the errno name). The same cases run on the FUSE
 * mount and on an ext4 folder of this machine; test/e2e/posix.test.ts compares them.
 *
 *   node --import tsx test/posix/cases.ts DIR > results.json     (as root)
 * Calls as another user run in a child process that drops to that user (setgroups, setgid,
 * setuid) and runs the whole segment.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';

type Call = [string, ...unknown[]];
interface User { uid: number; gid: number; groups: number[] }
type Step = { as: 'root' | User; calls: Call[] };

const ALICE: User = { uid: 1001, gid: 2001, groups: [2001] };
const BOB: User = { uid: 1002, gid: 2002, groups: [2002, 2001] };
const root = (...calls: Call[]): Step => ({ as: 'root', calls });
const alice = (...calls: Call[]): Step => ({ as: ALICE, calls });
const bob = (...calls: Call[]): Step => ({ as: BOB, calls });

/** The cases: name → steps. Paths are relative to the case's folder (made 0777 by root). */
export const CASES: Record<string, Step[]> = {
  'create modes follow umask 022': [root(['write', 'f', 'x'], ['mkdir', 'd', 0o777], ['stat', 'f'], ['stat', 'd'])],
  'O_EXCL on an existing file is EEXIST': [root(['write', 'f', 'x'], ['open', 'f', 'wx'])],
  'O_APPEND appends': [root(['write', 'f', 'ab'], ['append', 'f', 'cd'], ['read', 'f'])],
  'O_TRUNC empties': [root(['write', 'f', 'abcdef'], ['open', 'f', 'w'], ['stat', 'f'])],
  'truncate up and down': [root(['write', 'f', 'abcdef'], ['truncate', 'f', 3], ['read', 'f'], ['truncate', 'f', 6], ['readhex', 'f'])],
  'read permission': [root(['write', 'f', 'secret'], ['chmod', 'f', 0o600]), alice(['read', 'f'])],
  'write permission': [root(['write', 'f', 'x'], ['chmod', 'f', 0o644]), alice(['append', 'f', 'y'], ['truncate', 'f', 0])],
  'group permission': [root(['write', 'f', 'x'], ['chown', 'f', 0, 2001], ['chmod', 'f', 0o640]), alice(['read', 'f']), bob(['read', 'f'])],
  'search permission on a directory': [root(['mkdir', 'd', 0o755], ['write', 'd/f', 'x'], ['chmod', 'd', 0o700]), alice(['read', 'd/f'], ['stat', 'd/f'])],
  'create needs write on the directory': [root(['mkdir', 'd', 0o755]), alice(['write', 'd/f', 'x'], ['mkdir', 'd/e', 0o755])],
  'sticky directory: only owners delete': [
    root(['mkdir', 't', 0o777], ['chmod', 't', 0o1777]), alice(['write', 't/a', 'x']), bob(['unlink', 't/a'], ['rename', 't/a', 't/b'], ['write', 't/b2', 'y']), alice(['unlink', 't/a'], ['unlink', 't/b2']),
  ],
  'setgid directory: group and bit inherited': [
    root(['mkdir', 'g', 0o777], ['chown', 'g', 0, 2001], ['chmod', 'g', 0o2777]), bob(['write', 'g/f', 'x'], ['mkdir', 'g/sub', 0o755], ['stat', 'g/f'], ['stat', 'g/sub']),
  ],
  'chmod by the owner only': [root(['write', 'f', 'x'], ['chown', 'f', 1001, 2001]), bob(['chmod', 'f', 0o600]), alice(['chmod', 'f', 0o600], ['stat', 'f'])],
  'chown rules': [
    root(['write', 'f', 'x'], ['chown', 'f', 1001, 2001]),
    alice(['chown', 'f', 1002, 2001], ['chown', 'f', 1001, 2002], ['chown', 'f', 1001, 2001]),
    bob(['chown', 'f', 1002, 2002]),
    root(['chown', 'f', 1002, 2002], ['stat', 'f']),
  ],
  'chmod by a non-member drops setgid': [root(['write', 'f', 'x'], ['chown', 'f', 1001, 2002]), alice(['chmod', 'f', 0o2755], ['stat', 'f'])],
  'write by another user clears setuid': [root(['write', 'f', 'x'], ['chmod', 'f', 0o4777]), alice(['append', 'f', 'y']), root(['stat', 'f'])],
  'hard links and link counts': [
    root(['write', 'f', 'x'], ['link', 'f', 'g'], ['stat', 'f'], ['mkdir', 'd', 0o755], ['mkdir', 'd/e', 0o755], ['stat', 'd'], ['unlink', 'f'], ['stat', 'g'], ['link', 'd', 'd2']),
  ],
  'rename over a file replaces it': [root(['write', 'a', 'A'], ['write', 'b', 'B'], ['rename', 'a', 'b'], ['read', 'b'], ['ls', '.'])],
  'rename errors': [
    root(['mkdir', 'd', 0o755], ['mkdir', 'e', 0o755], ['write', 'e/x', 'x'], ['write', 'f', 'x'],
      ['rename', 'd', 'f'], ['rename', 'f', 'd'], ['rename', 'd', 'e'], ['rename', 'd', 'd/sub'], ['rename', 'missing', 'z'], ['rename', 'd', 'e/x/y']),
  ],
  'rename a directory over an empty one': [root(['mkdir', 'a', 0o755], ['write', 'a/f', 'x'], ['mkdir', 'b', 0o755], ['rename', 'a', 'b'], ['ls', 'b'], ['stat', '.'])],
  'rmdir errors': [root(['mkdir', 'd', 0o755], ['write', 'd/f', 'x'], ['rmdir', 'd'], ['rmdir', 'd/f'], ['rmdir', 'nope'])],
  'unlink errors': [root(['mkdir', 'd', 0o755], ['unlink', 'd'], ['unlink', 'nope'])],
  'EISDIR': [root(['mkdir', 'd', 0o755], ['open', 'd', 'w'], ['read', 'd'])],
  'ENOTDIR': [root(['write', 'f', 'x'], ['stat', 'f/x'], ['mkdir', 'f/d', 0o755])],
  'ENAMETOOLONG': [root(['write', 'n'.repeat(256), 'x'], ['write', 'n'.repeat(255), 'x'], ['stat', 'n'.repeat(255)])],
  'symlinks and ELOOP': [
    root(['write', 'f', 'data'], ['symlink', 'f', 'l'], ['read', 'l'], ['readlink', 'l'], ['lstat', 'l'], ['symlink', 'loop2', 'loop1'], ['symlink', 'loop1', 'loop2'], ['read', 'loop1'], ['symlink', 'missing', 'dangling'], ['read', 'dangling']),
  ],
  'unlink of an open file': [root(['openunlinkread', 'f', 'still here'])],
  'utimensat with UTIME_NOW and UTIME_OMIT (touch)': [
    root(['write', 'f', 'x'], ['touchdate', 'f', '2001-02-03 04:05:06'], ['times', 'f'], ['touch', 'f', '-a', '-d', '2010-01-01 00:00:00'], ['times', 'f'], ['touch', 'f', '-m', '-d', '2011-01-01 00:00:00'], ['times', 'f']),
  ],
  'utimes: only the owner sets explicit times, writers may set now': [
    root(['write', 'f', 'x'], ['chmod', 'f', 0o666]), alice(['touchdate', 'f', '2001-02-03 04:05:06'], ['touchnow', 'f']),
  ],
  'mkfifo and mknod': [root(['mkfifo', 'p'], ['stat', 'p'], ['mknod', 'c', 'c', 1, 3], ['stat', 'c'])],
  'ENOTEMPTY on rename over a full directory': [root(['mkdir', 'a', 0o755], ['mkdir', 'b', 0o755], ['write', 'b/f', 'x'], ['rename', 'a', 'b'])],
  'readdir lists every entry once': [root(...Array.from({ length: 60 }, (_, i): Call => ['write', `f${i}`, 'x']), ['count', '.'])],
};

/** Runs one call; returns its outcome as text. */
function call(dir: string, c: Call): string {
  const [op, ...a] = c;
  const p = (x: unknown) => join(dir, String(x));
  try {
    switch (op) {
      case 'write': fs.writeFileSync(p(a[0]), String(a[1])); return 'ok';
      case 'append': fs.appendFileSync(p(a[0]), String(a[1])); return 'ok';
      case 'open': fs.closeSync(fs.openSync(p(a[0]), String(a[1]))); return 'ok';
      case 'read': return `=${fs.readFileSync(p(a[0]), 'utf8')}`;
      case 'readhex': return `=${fs.readFileSync(p(a[0])).toString('hex')}`;
      case 'mkdir': fs.mkdirSync(p(a[0]), Number(a[1])); return 'ok';
      case 'chmod': fs.chmodSync(p(a[0]), Number(a[1])); return 'ok';
      case 'chown': fs.chownSync(p(a[0]), Number(a[1]), Number(a[2])); return 'ok';
      case 'truncate': fs.truncateSync(p(a[0]), Number(a[1])); return 'ok';
      case 'unlink': fs.unlinkSync(p(a[0])); return 'ok';
      case 'rmdir': fs.rmdirSync(p(a[0])); return 'ok';
      case 'rename': fs.renameSync(p(a[0]), p(a[1])); return 'ok';
      case 'link': fs.linkSync(p(a[0]), p(a[1])); return 'ok';
      case 'symlink': fs.symlinkSync(String(a[0]), p(a[1])); return 'ok';
      case 'readlink': return `=${fs.readlinkSync(p(a[0]))}`;
      case 'ls': return `=${fs.readdirSync(p(a[0])).sort().join(',')}`;
      case 'count': return `=${fs.readdirSync(p(a[0])).length}`;
      case 'stat':
      case 'lstat': {
        const s = op === 'stat' ? fs.statSync(p(a[0])) : fs.lstatSync(p(a[0]));
        const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'link' : s.isFIFO() ? 'fifo' : s.isCharacterDevice() ? 'chr' : 'other';
        // Directory sizes differ by file system (ext4 4096, ours 0): not compared.
        return `=${type} ${(s.mode & 0o7777).toString(8)} nlink=${s.nlink} ${s.uid}:${s.gid}${type === 'dir' ? '' : ` size=${s.size}`}${type === 'chr' ? ` rdev=${s.rdev}` : ''}`;
      }
      case 'times': { const s = fs.statSync(p(a[0])); return `=a${s.atime.toISOString()} m${s.mtime.toISOString()}`; }
      case 'touch': return run('touch', [...(a.slice(1) as string[]), p(a[0])]);
      case 'touchdate': return run('touch', ['-d', String(a[1]), p(a[0])]);
      case 'touchnow': return run('touch', [p(a[0])]);
      case 'mkfifo': return run('mkfifo', [p(a[0])]);
      case 'mknod': return run('mknod', [p(a[0]), String(a[1]), String(a[2]), String(a[3])]);
      case 'openunlinkread': {
        fs.writeFileSync(p(a[0]), String(a[1]));
        const fd = fs.openSync(p(a[0]), 'r');
        fs.unlinkSync(p(a[0]));
        const b = Buffer.alloc(64);
        const n = fs.readSync(fd, b, 0, 64, 0);
        fs.closeSync(fd);
        return `=${b.subarray(0, n).toString()} exists=${fs.existsSync(p(a[0]))}`;
      }
      default: return `unknown op ${op}`;
    }
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** A command's outcome: ok, or the errno name its message names. */
function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status === 0) return 'ok';
  const m = /(Permission denied|Operation not permitted|No such file|File exists|Read-only)/.exec(r.stderr);
  return ({ 'Permission denied': 'EACCES', 'Operation not permitted': 'EPERM', 'No such file': 'ENOENT', 'File exists': 'EEXIST', 'Read-only': 'EROFS' } as Record<string, string>)[m?.[1] ?? ''] ?? `failed: ${r.stderr.trim()}`;
}

/** Runs the calls as a user, in a child that drops to it. */
function runAs(u: User, dir: string, calls: Call[]): string[] {
  const r = spawnSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '--child', JSON.stringify({ u, dir, calls })], { encoding: 'utf8' });
  if (r.status !== 0) return [`child failed: ${r.stderr.trim().slice(0, 300)}`];
  return JSON.parse(r.stdout) as string[];
}

/** Runs every case under `base`; returns case name → outcomes. */
export function runCases(base: string, only?: string[]): Record<string, string[]> {
  process.umask(0o022);
  const out: Record<string, string[]> = {};
  let i = 0;
  for (const [name, steps] of Object.entries(CASES)) {
    if (only && !only.includes(name)) continue;
    const dir = join(base, `case-${i++}`);
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    const res: string[] = [];
    for (const s of steps) res.push(...(s.as === 'root' ? s.calls.map((c) => call(dir, c)) : runAs(s.as, dir, s.calls)));
    out[name] = res;
  }
  return out;
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  const { u, dir, calls } = JSON.parse(argv[1]!) as { u: User; dir: string; calls: Call[] };
  process.umask(0o022);
  process.setgroups!(u.groups);
  process.setgid!(u.gid);
  process.setuid!(u.uid);
  process.stdout.write(JSON.stringify(calls.map((c) => call(dir, c))));
} else if (argv[0] && import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(JSON.stringify(runCases(argv[0]), null, 1));
}
