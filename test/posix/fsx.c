/*
 * An fsx-style random checker of our own (issue 4): random pwrite, pread, ftruncate (up and
 * down), mmap writes and reads (MAP_SHARED, msync), fallocate (grow, PUNCH_HOLE|KEEP_SIZE,
 * ZERO_RANGE), fsync, and close/reopen on one file, each checked against an in-memory model of
 * the file. Every read and, every 1000 operations, the whole file is compared; the first
 * difference prints the last operations and exits 1.
 *   cc -O2 -o fsx fsx.c && ./fsx FILE OPS [SEED]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXSIZE (2 << 20)
#define MAXLEN (96 << 10)
#define LOG 32

static unsigned char model[MAXSIZE + MAXLEN], buf[MAXSIZE + MAXLEN];
static long size;
static int fd;
static const char *path;
static char logbuf[LOG][96];
static long opno;

static uint64_t rng;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static long pick(long n) { return n > 0 ? (long)(next() % (uint64_t)n) : 0; }

static void logop(const char *fmt, long a, long b) { snprintf(logbuf[opno % LOG], sizeof logbuf[0], "%ld: ", opno); size_t l = strlen(logbuf[opno % LOG]); snprintf(logbuf[opno % LOG] + l, sizeof logbuf[0] - l, fmt, a, b); }

static void fail(const char *what, long at) {
  fprintf(stderr, "fsx: %s at offset %ld after %ld operations (size %ld); last operations:\n", what, at, opno, size);
  for (long i = opno - LOG + 1; i <= opno; i++) if (i >= 0) fprintf(stderr, "  %s\n", logbuf[i % LOG]);
  exit(1);
}

static void die(const char *what) { fprintf(stderr, "fsx: %s failed: %s (op %ld)\n", what, strerror(errno), opno); exit(2); }

static void check(long off, long len) {
  if (off + len > size) len = size - off;
  if (len <= 0) return;
  ssize_t n = pread(fd, buf, (size_t)len, off);
  if (n != len) { if (n < 0) die("pread"); fail("short read", off + n); }
  for (long i = 0; i < len; i++) if (buf[i] != model[off + i]) fail("data differs", off + i);
}

static void checksize(void) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  if (st.st_size != size) fail("size differs", st.st_size);
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: fsx FILE OPS [SEED]\n"); return 2; }
  path = argv[1];
  long ops = atol(argv[2]);
  rng = argc > 3 ? strtoull(argv[3], 0, 10) : 42;
  if (!rng) rng = 42;
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  long counts[10] = {0};
  for (opno = 0; opno < ops; opno++) {
    int op = (int)pick(100);
    if (op < 30) {  // write
      long off = pick(MAXSIZE - 1), len = 1 + pick(MAXLEN);
      if (off + len > MAXSIZE) len = MAXSIZE - off;
      for (long i = 0; i < len; i++) model[off + i] = (unsigned char)next();
      logop("write %ld +%ld", off, len);
      if (pwrite(fd, model + off, (size_t)len, off) != len) die("pwrite");
      if (off + len > size) size = off + len;
      counts[0]++;
    } else if (op < 55) {  // read
      long off = pick(size + 1), len = 1 + pick(MAXLEN);
      logop("read %ld +%ld", off, len);
      check(off, len);
      counts[1]++;
    } else if (op < 63) {  // truncate
      long ns = pick(MAXSIZE);
      logop("truncate %ld (from %ld)", ns, size);
      if (ftruncate(fd, ns) != 0) die("ftruncate");
      if (ns > size) memset(model + size, 0, (size_t)(ns - size));
      else memset(model + ns, 0, (size_t)(size - ns));
      size = ns;
      counts[2]++;
    } else if (op < 71 && size > 0) {  // mmap write / read
      long off = pick(size), len = 1 + pick(size - off < MAXLEN ? size - off : MAXLEN);
      int write = op < 67;
      logop(write ? "mmap write %ld +%ld" : "mmap read %ld +%ld", off, len);
      unsigned char *m = mmap(0, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) die("mmap");
      if (write) {
        for (long i = 0; i < len; i++) model[off + i] = m[off + i] = (unsigned char)next();
        if (msync(m, (size_t)size, MS_SYNC) != 0) die("msync");
      } else {
        for (long i = 0; i < len; i++) if (m[off + i] != model[off + i]) { munmap(m, (size_t)size); fail("mmap data differs", off + i); }
      }
      munmap(m, (size_t)size);
      counts[3]++;
    } else if (op < 79) {  // fallocate
      long off = pick(MAXSIZE - 1), len = 1 + pick(MAXLEN);
      if (off + len > MAXSIZE) len = MAXSIZE - off;
      int kind = (int)pick(3);
      int mode = kind == 0 ? 0 : kind == 1 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;
      logop(kind == 0 ? "fallocate %ld +%ld" : kind == 1 ? "punch hole %ld +%ld" : "zero range %ld +%ld", off, len);
      if (fallocate(fd, mode, off, len) != 0) die("fallocate");
      if (kind == 0 || kind == 2) {
        if (kind == 2) { long e = off + len; memset(model + off, 0, (size_t)len); if (e > size) size = e; }
        else if (off + len > size) { memset(model + size, 0, (size_t)(off + len - size)); size = off + len; }
      } else {
        long e = off + len < size ? off + len : size;
        if (off < e) memset(model + off, 0, (size_t)(e - off));
      }
      counts[4]++;
    } else if (op < 83) {  // fsync
      logop("fsync%ld%ld", 0, 0);
      if (fsync(fd) != 0) die("fsync");
      counts[5]++;
    } else if (op < 86) {  // close and reopen
      logop("close/reopen%ld%ld", 0, 0);
      if (close(fd) != 0) die("close");
      fd = open(path, O_RDWR);
      if (fd < 0) die("reopen");
      checksize();
      counts[6]++;
    } else {  // read from the end region
      long off = size > MAXLEN ? size - pick(MAXLEN) : 0;
      logop("tail read %ld +%ld", off, MAXLEN);
      check(off, MAXLEN);
      counts[1]++;
    }
    if (opno % 1000 == 999) { checksize(); check(0, size); }
  }
  checksize();
  check(0, size);
  close(fd);
  printf("fsx: %ld operations clean (writes %ld, reads %ld, truncates %ld, mmap %ld, fallocate %ld, fsync %ld, reopen %ld), final size %ld\n",
         ops, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], size);
  return 0;
}
