/**
 * Issue 4: real holes through the kernel mount. python3 drives lseek(2) SEEK_DATA/SEEK_HOLE and
 * copy_file_range(2); util-linux fallocate punches holes (-p) and zeroes ranges (-z). Records are
 * 1 MiB (the default), so holes are found at 1 MiB boundaries. copy_file_range is ours, not the
 * kernel's fallback (which reads and writes, filling holes with zeros): a sparse source's hole
 * must still be a hole in the copy. Skipped, saying why, where FUSE is unavailable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADDON_PATH } from '../../protocols/fuse/server.js';
import { cleanupAll, serve, tempDir } from './gateway-harness.js';

after(cleanupAll);

const why = !existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync(ADDON_PATH) ? 'the FUSE binding is not built (npm run build:fuse)' : process.getuid?.() !== 0 ? 'needs root' : '';
const mounted = (mp: string) => spawnSync('grep', ['-q', ` ${mp} fuse`, '/proc/mounts']).status === 0;

const MiB = 1 << 20;
const ENXIO = 6;

/** Measures, prints JSON; the test asserts. lseek failures come back as -errno. */
const PY = String.raw`
import hashlib, json, os, subprocess, sys, time
mp = sys.argv[1]
MiB = 1 << 20
out = {}
def seek(fd, off, whence):
    try:
        return os.lseek(fd, off, whence)
    except OSError as e:
        return -e.errno
def read_all(p):
    with open(p, 'rb') as f:
        return f.read()
def sha(b):
    return hashlib.sha256(b).hexdigest()

# A sparse file: 4 KiB at 0 and at 8 MiB.
sparse = os.path.join(mp, 'sparse.bin')
with open(sparse, 'wb') as f:
    f.write(os.urandom(4096))
    f.seek(8 * MiB)
    f.write(os.urandom(4096))
fd = os.open(sparse, os.O_RDONLY)
out['sparse'] = {
    'size': os.fstat(fd).st_size,
    'data0': seek(fd, 0, os.SEEK_DATA), 'hole0': seek(fd, 0, os.SEEK_HOLE),
    'dataAfter1M': seek(fd, MiB, os.SEEK_DATA), 'holeInHole': seek(fd, 3 * MiB + 5, os.SEEK_HOLE),
    'holeAt8M': seek(fd, 8 * MiB, os.SEEK_HOLE), 'dataAtEnd': seek(fd, 8 * MiB + 4096, os.SEEK_DATA),
}
os.close(fd)

# Punch a whole record, then an unaligned range; then ZERO_RANGE across the end.
p = os.path.join(mp, 'punch.bin')
orig = os.urandom(4 * MiB)
with open(p, 'wb') as f:
    f.write(orig)
time.sleep(1.1)  # the kernel caches attributes for 1 s
blocks0 = os.stat(p).st_blocks
subprocess.run(['fallocate', '-p', '-o', str(MiB), '-l', str(MiB), p], check=True)
subprocess.run(['fallocate', '-p', '-o', '100', '-l', '1000', p], check=True)
want = bytearray(orig)
want[MiB:2 * MiB] = bytes(MiB)
want[100:1100] = bytes(1000)
got = read_all(p)
time.sleep(1.1)
fd = os.open(p, os.O_RDONLY)
out['punch'] = {
    'same': got == bytes(want), 'size': len(got), 'blocks0': blocks0, 'blocks': os.stat(p).st_blocks,
    'hole0': seek(fd, 0, os.SEEK_HOLE), 'dataAfter1M': seek(fd, MiB, os.SEEK_DATA),
}
os.close(fd)
subprocess.run(['fallocate', '-z', '-o', str(3 * MiB), '-l', str(2 * MiB), p], check=True)
want[3 * MiB:] = bytes(MiB)
want += bytes(MiB)
got = read_all(p)
out['zero'] = {'same': got == bytes(want), 'size': len(got)}

# copy_file_range: a whole file in a loop, a sparse one, an unaligned range, the source's end.
def copy_all(src, dst):
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    total = 0
    while True:
        k = os.copy_file_range(fi, fo, 64 * MiB)
        if k == 0:
            break
        total += k
    os.close(fi)
    os.close(fo)
    return total
src = os.path.join(mp, 'src.bin')
data = os.urandom(3 * MiB + 12345)
with open(src, 'wb') as f:
    f.write(data)
copied = copy_all(src, os.path.join(mp, 'dst.bin'))
sparse_copied = copy_all(sparse, os.path.join(mp, 'sparse-copy.bin'))
fd = os.open(os.path.join(mp, 'sparse-copy.bin'), os.O_RDONLY)
sparse_hole0 = seek(fd, 0, os.SEEK_HOLE)
os.close(fd)
fi = os.open(src, os.O_RDONLY)
fo = os.open(os.path.join(mp, 'dst2.bin'), os.O_RDWR | os.O_CREAT, 0o644)
unaligned = os.copy_file_range(fi, fo, 2 * MiB, 1000, 7)
unaligned_same = os.pread(fo, 2 * MiB + 7, 0) == bytes(7) + data[1000:1000 + 2 * MiB]
tail = os.copy_file_range(fi, fo, 100, len(data) - 10, 0)
tail_same = os.pread(fo, 10, 0) == data[-10:]
past = os.copy_file_range(fi, fo, 100, len(data), 0)
os.close(fi)
os.close(fo)
out['copy'] = {
    'copied': copied, 'sha': sha(read_all(os.path.join(mp, 'dst.bin'))) == sha(data),
    'sparseCopied': sparse_copied, 'sparseSha': sha(read_all(os.path.join(mp, 'sparse-copy.bin'))) == sha(read_all(sparse)),
    'sparseHole0': sparse_hole0,
    'unaligned': unaligned, 'unalignedSame': unaligned_same, 'tail': tail, 'tailSame': tail_same, 'past': past,
}
print(json.dumps(out))
`;

test('FUSE holes: SEEK_DATA/SEEK_HOLE, fallocate punch hole and zero range, copy_file_range through the kernel', { skip: why || false, timeout: 300_000 }, async () => {
  const tmp = await tempDir();
  const mp = join(tmp, 'mnt');
  await mkdir(mp);
  await writeFile(join(tmp, 'holes.py'), PY);
  const srv = await serve(join(tmp, 'data'), ['--fuse', mp]);
  try {
    const r = spawnSync('python3', [join(tmp, 'holes.py'), mp], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr);
    type Row = Record<string, number | boolean>;
    const { sparse, punch, zero, copy } = JSON.parse(r.stdout) as { sparse: Row; punch: Row; zero: Row; copy: Row };

    assert.equal(sparse.size, 8 * MiB + 4096);
    assert.equal(sparse.data0, 0, 'data at 0');
    assert.equal(sparse.hole0, MiB, 'a hole after the first record');
    assert.equal(sparse.dataAfter1M, 8 * MiB, 'data again at 8 MiB');
    assert.equal(sparse.holeInHole, 3 * MiB + 5, 'inside a hole, SEEK_HOLE stays put');
    assert.equal(sparse.holeAt8M, 8 * MiB + 4096, 'the end of the file is a hole');
    assert.equal(sparse.dataAtEnd, -ENXIO, 'SEEK_DATA at the end: ENXIO');

    assert.equal(punch.same, true, 'punched ranges read as zeros, the rest is unchanged');
    assert.equal(punch.size, 4 * MiB, 'punching keeps the size');
    assert.equal(punch.hole0, MiB, 'the punched record is a hole');
    assert.equal(punch.dataAfter1M, 2 * MiB);
    assert.equal(Number(punch.blocks0) - Number(punch.blocks), MiB / 512, `st_blocks down by one record (${punch.blocks0} -> ${punch.blocks})`);
    assert.equal(zero.same, true, 'ZERO_RANGE reads as zeros');
    assert.equal(zero.size, 5 * MiB, 'ZERO_RANGE without KEEP_SIZE grows the file');

    assert.equal(copy.copied, 3 * MiB + 12345, 'copy_file_range copies the whole file');
    assert.equal(copy.sha, true, 'the same bytes (sha256)');
    assert.equal(copy.sparseCopied, 8 * MiB + 4096);
    assert.equal(copy.sparseSha, true);
    assert.equal(copy.sparseHole0, MiB, 'the copy keeps the hole: ours, by block reference, not the kernel\'s read-and-write fallback');
    assert.equal(copy.unaligned, 2 * MiB, 'an unaligned range');
    assert.equal(copy.unalignedSame, true);
    assert.equal(copy.tail, 10, 'partial at the end of the source');
    assert.equal(copy.tailSame, true);
    assert.equal(copy.past, 0, 'nothing past it');
    assert.doesNotMatch(srv.stderr(), /request failed unexpectedly/);
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
    if (mounted(mp)) spawnSync('umount', ['-l', mp]);
  }
});
