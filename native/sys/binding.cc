// System calls JavaScript has no way to make, for the block store (raid/sysaddon.ts loads this):
//
// - adviseHugePages: madvise(MADV_HUGEPAGE) over the memory of a typed array (raid/hugepages.ts).
//   With DW_HUGEPAGES=1 the record arena's memory (raid/arena.ts) is advised as it grows, so that
//   the kernel backs it with 2 MiB transparent huge pages where it allows them: one fault per
//   2 MiB instead of 512 (off by default: on this VM small pages won, docs/benchmarks.md,
//   2026-12-02).
// - writevUncachedBatch: appends with pwritev2(RWF_DONTCACHE) on libuv's thread pool, several
//   as one job (raid/uncached.ts batches the appends of one turn of the event loop: each job
//   costs the event loop tens of us here). The device appends of large records go through the
//   page cache but do not stay there: the kernel
//   (6.14 and later, on file systems that support it) starts writing them back at once and drops
//   the pages when that is done, so the next appends reuse memory already in use instead of
//   taking new pages. Here new page-cache pages cost about 2.6 ms of CPU per MiB; the block store
//   keeps its own cache of records, so the page cache's copy served only reads that miss it.
//   The partial page an append ends in is written plainly (WriteAppend below).
// - populateWrite: madvise(MADV_POPULATE_WRITE) over the memory of a typed array (raid/prefault.ts):
//   the prefault helper thread has the kernel fill the page tables of new record-arena memory in
//   one call before touching each page, instead of one page fault per 4 KiB page.
// - gcmOpenInPlace: AES-GCM decryption in place through Node's OpenSSL (aead.cc), for SMB3's
//   encrypted messages: Node's Decipher returns each piece in a new buffer to copy back.
// - rsParity: Reed-Solomon parity of a small block in the calling thread (gf.cc, raid/gf.ts).
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <algorithm>
#include <string>
#include <vector>
#include "aead.h"
#include "gf.h"

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080  // linux/fs.h since 6.14
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // linux/mman.h since 5.14
#endif

// madvise(`advice`) over the `page`-aligned pages wholly inside the Uint8Array argv[0]; returns
// 0 or the errno as a number, throws TypeError named after `fn` for any other argument.
static napi_value MadviseView(napi_env env, napi_callback_info info, const char* fn, uintptr_t page, int advice) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool typed = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &typed) != napi_ok || !typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    std::string msg = std::string(fn) + " expects a Uint8Array";
    napi_throw_type_error(env, "EINVAL", msg.c_str());
    return nullptr;
  }
  const uintptr_t from = ((uintptr_t)data + page - 1) & ~(page - 1);
  const uintptr_t to = ((uintptr_t)data + length) & ~(page - 1);
  int rc = 0;
  if (data != nullptr && to > from && madvise((void*)from, to - from, advice) != 0) rc = errno;
  napi_value out;
  if (napi_create_int32(env, rc, &out) != napi_ok) return nullptr;
  return out;
}

// adviseHugePages(view: Uint8Array) -> number: 0, or the errno madvise failed with. Only the
// 2 MiB-aligned pages wholly inside the view are advised (none for a view under 2 MiB).
static napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  return MadviseView(env, info, "adviseHugePages", (uintptr_t)2 << 20, MADV_HUGEPAGE);
}

// populateWrite(view: Uint8Array) -> number: 0, or the errno madvise failed with (EINVAL where
// the kernel predates MADV_POPULATE_WRITE). Only the 4 KiB pages wholly inside the view are
// populated (writable, private, zero-filled where new); contents are never changed.
static napi_value PopulateWrite(napi_env env, napi_callback_info info) {
  return MadviseView(env, info, "populateWrite", 4096, MADV_POPULATE_WRITE);
}

// Writes all of `iov` at `pos` with pwritev2(`flags`), going on after short writes and EINTR.
// Returns 0, or the errno of the call that failed; adds the bytes written to *done either way.
static int WriteAllAt(int fd, std::vector<iovec> iov, off_t pos, int flags, size_t* done) {
  size_t at = 0;  // first iovec not yet written whole
  while (at < iov.size()) {
    int count = (int)std::min<size_t>(iov.size() - at, 1024);
    ssize_t n = pwritev2(fd, iov.data() + at, count, pos, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    *done += (size_t)n;
    pos += n;
    size_t left = (size_t)n;
    while (at < iov.size() && left >= iov[at].iov_len) left -= iov[at++].iov_len;
    if (left > 0) {
      iov[at].iov_base = static_cast<uint8_t*>(iov[at].iov_base) + left;
      iov[at].iov_len -= left;
    }
  }
  return 0;
}

// One append: the bytes up to the last page boundary with RWF_DONTCACHE, the partial page after
// it (if any) plain. Appends follow each other mid-page (shards are not page multiples); had the
// last partial page gone uncached too, the kernel would have dropped it once written back, and the
// next append, starting inside it, would wait for the disk to read it back first (about one disk
// read per append, measured 2026-12-02). Kept cached and dirty, it goes out with the next append's
// uncached write, or with the next fdatasync. Returns 0 or the errno; *done the bytes written.
static int WriteAppend(int fd, const iovec* iov, size_t count, int64_t pos, size_t* done) {
  static const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += iov[i].iov_len;
  const uint64_t end = (uint64_t)pos + total;
  const uint64_t cut = end - end % page;
  size_t head = cut > (uint64_t)pos ? (size_t)(cut - (uint64_t)pos) : 0;
  std::vector<iovec> first, rest;
  for (size_t i = 0; i < count; i++) {
    iovec v = iov[i];
    if (head >= v.iov_len) { first.push_back(v); head -= v.iov_len; continue; }
    if (head > 0) {
      first.push_back(iovec{v.iov_base, head});
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + head;
      v.iov_len -= head;
      head = 0;
    }
    rest.push_back(v);
  }
  *done = 0;
  if (!first.empty()) {
    int e = WriteAllAt(fd, first, (off_t)pos, RWF_DONTCACHE, done);
    if (e != 0) return e;
  }
  if (!rest.empty()) return WriteAllAt(fd, rest, (off_t)(pos + (int64_t)*done), 0, done);
  return 0;
}

// An Error for errno `e`: code (the errno's name, EIO for the rest), the system's message, errno
// (negative).
static napi_value ErrnoError(napi_env env, int e) {
  const char* code = e == EOPNOTSUPP ? "EOPNOTSUPP" : e == EINVAL ? "EINVAL" : e == ENOSPC ? "ENOSPC" : e == EDQUOT ? "EDQUOT" : e == EBADF ? "EBADF" : e == ECANCELED ? "ECANCELED" : "EIO";
  napi_value out, c, msg, errno_v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, c, msg, &out);
  napi_create_int32(env, -e, &errno_v);
  napi_set_named_property(env, out, "errno", errno_v);
  return out;
}

// The bytes of a Uint8Array argument, or false (a TypeError thrown) when it is not one.
static bool Bytes(napi_env env, napi_value v, uint8_t** p, size_t* len) {
  bool typed = false;
  napi_typedarray_type type = napi_int8_array;
  size_t offset = 0;
  napi_value ab;
  void* data = nullptr;
  if (napi_is_typedarray(env, v, &typed) != napi_ok || !typed ||
      napi_get_typedarray_info(env, v, &type, len, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) return false;
  *p = static_cast<uint8_t*>(data);
  return true;
}

// One writevUncachedBatch call: several pwritev2(RWF_DONTCACHE) done one after the other by one
// pool thread. The iovecs point into the caller's buffers, kept alive by `keep` (a reference to
// the flat argument array).
struct UncachedBatch {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keep = nullptr;
  struct Op {
    int fd = -1;
    int64_t pos = 0;
    size_t first = 0, count = 0;  // its iovecs: iov[first .. first+count)
    ssize_t written = 0;
    int err = 0;
  };
  std::vector<Op> ops;
  std::vector<iovec> iov;
};

static void ExecuteBatch(napi_env, void* data) {
  auto* b = static_cast<UncachedBatch*>(data);
  for (auto& op : b->ops) {
    size_t done = 0;
    op.err = WriteAppend(op.fd, b->iov.data() + op.first, op.count, op.pos, &done);
    if (op.err != 0 && done > 0) op.err = 0;  // a short write: the caller retries the rest
    op.written = (ssize_t)done;
  }
}

static void CompleteBatch(napi_env env, napi_status status, void* data) {
  auto* b = static_cast<UncachedBatch*>(data);
  napi_value out;
  if (status == napi_ok) {
    napi_create_array_with_length(env, b->ops.size(), &out);
    for (size_t i = 0; i < b->ops.size(); i++) {
      napi_value v;
      if (b->ops[i].err == 0) napi_create_double(env, (double)b->ops[i].written, &v);
      else v = ErrnoError(env, b->ops[i].err);
      napi_set_element(env, out, (uint32_t)i, v);
    }
    napi_resolve_deferred(env, b->deferred, out);
  } else {
    napi_reject_deferred(env, b->deferred, ErrnoError(env, ECANCELED));
  }
  napi_delete_reference(env, b->keep);
  napi_delete_async_work(env, b->work);
  delete b;
}

// writevUncachedBatch(flat: [fd, Uint8Array[], pos, fd, Uint8Array[], pos, ...]) ->
// Promise<(number | Error)[]>: each triple one append (WriteAppend: pwritev2 with RWF_DONTCACHE up
// to the last page boundary, plain after it), done in order by one pool thread (one round trip
// through libuv's pool for the lot); resolves with each write's bytes written (short when it
// failed part way) or its Error (ErrnoError: code EOPNOTSUPP where the kernel or the file system
// has no uncached writes). Throws TypeError on bad arguments (1..64 triples, each 1..1024 buffers).
static napi_value WritevUncachedBatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool isArray = false;
  uint32_t len = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, argv[0], &len) != napi_ok || len == 0 || len % 3 != 0 || len / 3 > 64) {
    napi_throw_type_error(env, "EINVAL", "writevUncachedBatch expects [fd, Uint8Array[], position, ...] (1..64 writes)");
    return nullptr;
  }
  auto* b = new UncachedBatch();
  b->ops.resize(len / 3);
  for (uint32_t w = 0; w < len / 3; w++) {
    napi_value fdv, bufs, posv;
    int32_t fd = -1;
    double pos = -1;
    uint32_t count = 0;
    bool arr = false;
    if (napi_get_element(env, argv[0], 3 * w, &fdv) != napi_ok || napi_get_element(env, argv[0], 3 * w + 1, &bufs) != napi_ok ||
        napi_get_element(env, argv[0], 3 * w + 2, &posv) != napi_ok || napi_get_value_int32(env, fdv, &fd) != napi_ok || fd < 0 ||
        napi_is_array(env, bufs, &arr) != napi_ok || !arr || napi_get_array_length(env, bufs, &count) != napi_ok || count == 0 || count > 1024 ||
        napi_get_value_double(env, posv, &pos) != napi_ok || !(pos >= 0) || pos > 9007199254740991.0) {
      delete b;
      napi_throw_type_error(env, "EINVAL", "writevUncachedBatch expects [fd, Uint8Array[1..1024], position >= 0, ...]");
      return nullptr;
    }
    auto& op = b->ops[w];
    op.fd = fd;
    op.pos = (int64_t)pos;
    op.first = b->iov.size();
    op.count = count;
    for (uint32_t i = 0; i < count; i++) {
      napi_value el;
      uint8_t* p = nullptr;
      size_t length = 0;
      if (napi_get_element(env, bufs, i, &el) != napi_ok || !Bytes(env, el, &p, &length)) {
        delete b;
        napi_throw_type_error(env, "EINVAL", "writevUncachedBatch expects Uint8Array buffers");
        return nullptr;
      }
      b->iov.push_back(iovec{p, length});
    }
  }
  napi_value promise, name;
  if (napi_create_reference(env, argv[0], 1, &b->keep) != napi_ok ||
      napi_create_promise(env, &b->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "dw:writevUncachedBatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteBatch, CompleteBatch, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    if (b->keep) napi_delete_reference(env, b->keep);
    delete b;
    napi_throw_error(env, "EIO", "writevUncachedBatch could not queue its work");
    return nullptr;
  }
  return promise;
}

// rsParity(matrix: Uint8Array, data: Uint8Array, parity: Uint8Array, k, m, shardSize, simd?) ->
// undefined: the m parity shards of the k data shards, in this thread (gf.h DwRsParity; `matrix`
// m*8 rows of k*8 bytes, `data` at least k*shardSize bytes, `parity` at least m*shardSize, not
// overlapping `data`, shardSize a multiple of 8). `simd` false forces the portable loop. Throws
// TypeError on bad arguments (sizes that do not fit, k or m outside 1..32).
static napi_value RsParity(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  uint8_t *matrix = nullptr, *data = nullptr, *parity = nullptr;
  size_t tl = 0, dl = 0, pl = 0;
  uint32_t k = 0, m = 0;
  double shard = 0;
  bool simd = true;
  if (argc < 6 || !Bytes(env, argv[0], &matrix, &tl) || !Bytes(env, argv[1], &data, &dl) || !Bytes(env, argv[2], &parity, &pl) ||
      napi_get_value_uint32(env, argv[3], &k) != napi_ok || napi_get_value_uint32(env, argv[4], &m) != napi_ok ||
      napi_get_value_double(env, argv[5], &shard) != napi_ok || (argc > 6 && napi_get_value_bool(env, argv[6], &simd) != napi_ok) ||
      k < 1 || k > 32 || m < 1 || m > 32 || !(shard >= DW_RS_PACKETS) || shard > 1073741824.0 ||
      shard != static_cast<double>(static_cast<size_t>(shard)) || static_cast<size_t>(shard) % DW_RS_PACKETS != 0) {
    napi_throw_type_error(env, "EINVAL", "rsParity expects (matrix, data, parity: Uint8Array, k 1..32, m 1..32, shardSize a multiple of 8[, simd])");
    return nullptr;
  }
  const size_t s = static_cast<size_t>(shard);
  if (tl < static_cast<size_t>(k) * m * DW_RS_PACKETS * DW_RS_PACKETS || dl < k * s || pl < m * s || (parity < data + k * s && data < parity + m * s)) {
    napi_throw_type_error(env, "EINVAL", "rsParity: matrix, data or parity too small, or data and parity overlap");
    return nullptr;
  }
  DwRsParity(matrix, data, parity, k, m, s, simd);
  return nullptr;
}

// gcmOpenInPlace(key, nonce, aad, data, tag: Uint8Array) -> boolean: decrypts `data` in place
// with AES-GCM (key 16 or 32 bytes, tag 16 bytes) and answers whether the tag matched (false:
// `data` is garbage). Throws TypeError on bad arguments, Error when OpenSSL fails.
static napi_value GcmOpenInPlace(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  uint8_t *key = nullptr, *nonce = nullptr, *aad = nullptr, *data = nullptr, *tag = nullptr;
  size_t kl = 0, nl = 0, al = 0, dl = 0, tl = 0;
  if (argc < 5 || !Bytes(env, argv[0], &key, &kl) || !Bytes(env, argv[1], &nonce, &nl) || !Bytes(env, argv[2], &aad, &al) ||
      !Bytes(env, argv[3], &data, &dl) || !Bytes(env, argv[4], &tag, &tl) || (kl != 16 && kl != 32) || nl != 12 || tl != 16) {
    napi_throw_type_error(env, "EINVAL", "gcmOpenInPlace expects (key 16 or 32 bytes, nonce 12, aad, data, tag 16: Uint8Array)");
    return nullptr;
  }
  const int rc = DwGcmOpenInPlace(key, kl, nonce, nl, aad, al, data, dl, tag);
  if (rc < 0) {
    napi_throw_error(env, "EIO", "gcmOpenInPlace: OpenSSL failed");
    return nullptr;
  }
  napi_value out;
  if (napi_get_boolean(env, rc == 1, &out) != napi_ok) return nullptr;
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, AdviseHugePages, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "adviseHugePages", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "populateWrite", NAPI_AUTO_LENGTH, PopulateWrite, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "populateWrite", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "writevUncachedBatch", NAPI_AUTO_LENGTH, WritevUncachedBatch, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "writevUncachedBatch", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "gcmOpenInPlace", NAPI_AUTO_LENGTH, GcmOpenInPlace, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "gcmOpenInPlace", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "rsParity", NAPI_AUTO_LENGTH, RsParity, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "rsParity", fn) != napi_ok) return nullptr;
  return exports;
}
