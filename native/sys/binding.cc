// System calls JavaScript has no way to make, for the block store (raid/sysaddon.ts loads this):
//
// - adviseHugePages: madvise(MADV_HUGEPAGE) over the memory of a typed array (raid/hugepages.ts).
//   With DW_HUGEPAGES=1 the record arena's memory (raid/arena.ts) is advised as it grows, so that
//   the kernel backs it with 2 MiB transparent huge pages where it allows them: one fault per
//   2 MiB instead of 512 (off by default: on this VM small pages won, docs/benchmarks.md,
//   2026-12-02).
// - writevUncached: pwritev2(RWF_DONTCACHE) on libuv's thread pool (raid/uncached.ts). The
//   device appends of large records go through the page cache but do not stay there: the kernel
//   (6.14 and later, on file systems that support it) starts writing them back at once and drops
//   the pages when that is done, so the next appends reuse memory already in use instead of
//   taking new pages. Here new page-cache pages cost about 2.6 ms of CPU per MiB; the block store
//   keeps its own cache of records, so the page cache's copy served only reads that miss it.
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <vector>

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080  // linux/fs.h since 6.14
#endif

// adviseHugePages(view: Uint8Array) -> number: 0, or the errno madvise failed with. Only the
// 2 MiB-aligned pages wholly inside the view are advised (none for a view under 2 MiB).
static napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
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
    napi_throw_type_error(env, "EINVAL", "adviseHugePages expects a Uint8Array");
    return nullptr;
  }
  const uintptr_t huge = (uintptr_t)2 << 20;
  const uintptr_t from = ((uintptr_t)data + huge - 1) & ~(huge - 1);
  const uintptr_t to = ((uintptr_t)data + length) & ~(huge - 1);
  int rc = 0;
  if (data != nullptr && to > from && madvise((void*)from, to - from, MADV_HUGEPAGE) != 0) rc = errno;
  napi_value out;
  if (napi_create_int32(env, rc, &out) != napi_ok) return nullptr;
  return out;
}

// One writevUncached call: the iovecs point into the caller's buffers, which `keep` (a reference
// to the array holding them) keeps alive until the write is done.
struct UncachedWrite {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keep = nullptr;
  int fd = -1;
  int64_t pos = 0;
  std::vector<iovec> iov;
  ssize_t written = 0;
  int err = 0;
};

static void ExecuteUncached(napi_env, void* data) {
  auto* w = static_cast<UncachedWrite*>(data);
  for (;;) {
    ssize_t n = pwritev2(w->fd, w->iov.data(), (int)w->iov.size(), (off_t)w->pos, RWF_DONTCACHE);
    if (n >= 0) { w->written = n; return; }
    if (errno != EINTR) { w->err = errno; return; }
  }
}

static void CompleteUncached(napi_env env, napi_status status, void* data) {
  auto* w = static_cast<UncachedWrite*>(data);
  napi_value out;
  if (status == napi_ok && w->err == 0) {
    napi_create_double(env, (double)w->written, &out);
    napi_resolve_deferred(env, w->deferred, out);
  } else {
    const int e = status == napi_ok ? w->err : ECANCELED;
    const char* code = e == EOPNOTSUPP ? "EOPNOTSUPP" : e == EINVAL ? "EINVAL" : e == ENOSPC ? "ENOSPC" : e == EDQUOT ? "EDQUOT" : e == EBADF ? "EBADF" : e == ECANCELED ? "ECANCELED" : "EIO";
    napi_value c, msg, errno_v;
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
    napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, c, msg, &out);
    napi_create_int32(env, -e, &errno_v);
    napi_set_named_property(env, out, "errno", errno_v);
    napi_reject_deferred(env, w->deferred, out);
  }
  napi_delete_reference(env, w->keep);
  napi_delete_async_work(env, w->work);
  delete w;
}

// writevUncached(fd: number, bufs: Uint8Array[], pos: number) -> Promise<number>: one
// pwritev2(fd, bufs, pos, RWF_DONTCACHE) on libuv's pool; resolves with the bytes written (may be
// short), rejects with an Error whose code is the errno's name (EOPNOTSUPP where the kernel or
// the file system has no uncached writes). Throws TypeError on bad arguments (at most 1024 buffers).
static napi_value WritevUncached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  int32_t fd = -1;
  double pos = -1;
  bool isArray = false;
  uint32_t count = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_array(env, argv[1], &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > 1024 ||
      napi_get_value_double(env, argv[2], &pos) != napi_ok || !(pos >= 0) || pos > 9007199254740991.0) {
    napi_throw_type_error(env, "EINVAL", "writevUncached expects (fd, Uint8Array[1..1024], position >= 0)");
    return nullptr;
  }
  auto* w = new UncachedWrite();
  w->fd = fd;
  w->pos = (int64_t)pos;
  w->iov.resize(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value el, ab;
    bool typed = false;
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0, offset = 0;
    void* p = nullptr;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok || napi_is_typedarray(env, el, &typed) != napi_ok || !typed ||
        napi_get_typedarray_info(env, el, &type, &length, &p, &ab, &offset) != napi_ok || type != napi_uint8_array) {
      delete w;
      napi_throw_type_error(env, "EINVAL", "writevUncached expects Uint8Array buffers");
      return nullptr;
    }
    w->iov[i].iov_base = p;
    w->iov[i].iov_len = length;
  }
  napi_value promise, name;
  if (napi_create_reference(env, argv[1], 1, &w->keep) != napi_ok ||
      napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "dw:writevUncached", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteUncached, CompleteUncached, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    if (w->keep) napi_delete_reference(env, w->keep);
    delete w;
    napi_throw_error(env, "EIO", "writevUncached could not queue its work");
    return nullptr;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, AdviseHugePages, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "adviseHugePages", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "writevUncached", NAPI_AUTO_LENGTH, WritevUncached, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "writevUncached", fn) != napi_ok) return nullptr;
  return exports;
}
