// Reed-Solomon parity in the calling thread, as XORs of packets (gf.cc).
#pragma once
#include <stddef.h>
#include <stdint.h>

// Packets per shard: each shard is cut into this many equal packets.
#define DW_RS_PACKETS 8

// Fills the m parity shards (parity: m * shard bytes, shard j at j * shard) from the k data shards
// (data: k * shard bytes, shard i at i * shard; k <= 32), `shard` a multiple of DW_RS_PACKETS.
// Packet a of parity j is the XOR of the data packets (i, c) whose byte is nonzero in `matrix`
// (m * 8 rows of k * 8 bytes: row j * 8 + a, column i * 8 + c), zero when none is. `allowSimd`
// false forces the portable loop (for tests). `data` and `parity` must not overlap.
void DwRsParity(const uint8_t* matrix, const uint8_t* data, uint8_t* parity, uint32_t k, uint32_t m, size_t shard, bool allowSimd);
