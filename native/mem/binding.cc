// One system call JavaScript has no way to make: madvise(MADV_HUGEPAGE) over the memory of a
// typed array (raid/hugepages.ts). The record arena's memory (raid/arena.ts) is advised as it
// grows, so that the kernel backs it with 2 MiB transparent huge pages where it allows them
// (/sys/kernel/mm/transparent_hugepage/enabled "madvise" or "always"): one fault per 2 MiB
// instead of 512. On this machine (a paravirtualised VM) faulting in 512 MiB of new memory took
// 1.8–2.6 s in 4 KiB pages and 0.1–1.3 s in huge pages (docs/benchmarks.md, 2026-12-02).
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

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

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, AdviseHugePages, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "adviseHugePages", fn) != napi_ok) return nullptr;
  return exports;
}
