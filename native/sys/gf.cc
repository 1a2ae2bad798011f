// rsParity: Reed-Solomon parity of a small block, computed in the calling thread (raid/gf.ts).
//
// @ronomon/reed-solomon computes parity on libuv's thread pool only. For a block volume's 64 KiB
// records the work itself takes microseconds, while handing it to the pool and back costs the
// event loop tens of microseconds (waking a pool thread, the pool's lock, the completion's
// wake-up: the submitting call took about 45 us a record in a V8 CPU profile on this 2-core VM,
// 2026-12-02; the XORs here take 4 us with AVX2). This kernel does the same
// arithmetic synchronously.
//
// That library codes with a Cauchy bit matrix: each shard is cut into equal packets, and each
// parity packet is the XOR of some data packets. raid/gf.ts reads which ones off the library
// itself (one encode per data packet), at a granularity of 8 packets per shard, which describes
// the library's parity exactly for every shard size where its packets are an eighth of the shard
// or a multiple of that (all shard sizes raid/gf.ts sends here). So the parity written here is
// the library's, byte for byte, and the library decodes from it.
#include "gf.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DW_X86 1
#endif

namespace {

// out = XOR of the `n` packets at `srcs` (n >= 1), `len` bytes each, 8 bytes at a time.
void XorPackets(uint8_t* out, const uint8_t* const* srcs, uint32_t n, size_t len) {
  size_t x = 0;
  for (; x + 8 <= len; x += 8) {
    uint64_t acc, v;
    memcpy(&acc, srcs[0] + x, 8);
    for (uint32_t s = 1; s < n; s++) {
      memcpy(&v, srcs[s] + x, 8);
      acc ^= v;
    }
    memcpy(out + x, &acc, 8);
  }
  for (; x < len; x++) {
    uint8_t acc = srcs[0][x];
    for (uint32_t s = 1; s < n; s++) acc ^= srcs[s][x];
    out[x] = acc;
  }
}

#ifdef DW_X86
// The same, 32 bytes at a time (the tail as above).
__attribute__((target("avx2"))) void XorPacketsAvx2(uint8_t* out, const uint8_t* const* srcs, uint32_t n, size_t len) {
  size_t x = 0;
  for (; x + 32 <= len; x += 32) {
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(srcs[0] + x));
    for (uint32_t s = 1; s < n; s++) acc = _mm256_xor_si256(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(srcs[s] + x)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x), acc);
  }
  if (x < len) {
    const uint8_t* rest[DW_RS_PACKETS * 32];
    for (uint32_t s = 0; s < n; s++) rest[s] = srcs[s] + x;
    XorPackets(out + x, rest, n, len - x);
  }
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

}  // namespace

void DwRsParity(const uint8_t* matrix, const uint8_t* data, uint8_t* parity, uint32_t k, uint32_t m, size_t shard, bool allowSimd) {
  const size_t packet = shard / DW_RS_PACKETS;
  const uint32_t cols = k * DW_RS_PACKETS;
  const uint8_t* srcs[DW_RS_PACKETS * 32];
  bool simd = false;
#ifdef DW_X86
  simd = allowSimd && HasAvx2();
#else
  (void)allowSimd;
#endif
  for (uint32_t j = 0; j < m; j++) {
    for (uint32_t a = 0; a < DW_RS_PACKETS; a++) {
      const uint8_t* row = matrix + (static_cast<size_t>(j) * DW_RS_PACKETS + a) * cols;
      uint8_t* out = parity + j * shard + a * packet;
      uint32_t n = 0;
      for (uint32_t c = 0; c < cols; c++) {
        if (row[c]) srcs[n++] = data + (c / DW_RS_PACKETS) * shard + (c % DW_RS_PACKETS) * packet;
      }
      if (n == 0) memset(out, 0, packet);
#ifdef DW_X86
      else if (simd) XorPacketsAvx2(out, srcs, n, packet);
#endif
      else XorPackets(out, srcs, n, packet);
    }
  }
}
