#pragma once
// Memory for records. A record is one small block (8 bytes of header and its AT line,
// ~100 bytes) and a server holds millions, looked up at random: malloc would add 8 bytes
// and round to the next 16 (a 94-byte record takes 112), and spread them over 4 KiB pages,
// one TLB miss per lookup. Here blocks of up to kMaxPooledBytes come in size classes of
// 16 bytes, carved from 2 MiB regions advised for transparent huge pages, with a cache of
// free blocks per thread and class (a record may be freed by any thread). Memory of freed
// blocks is kept for blocks of the same class, never returned to the system. Larger
// blocks, and every block in an AddressSanitizer build (so that it still sees a use after
// free), come from operator new.
#include <cstddef>

namespace herd::record_pool {

constexpr std::size_t kGranule = 16;  // block sizes and alignment
constexpr std::size_t kMaxPooledBytes = 512;

// A 16-byte-aligned block of at least `bytes` bytes. Throws std::bad_alloc.
void* allocate(std::size_t bytes);
// Gives back a block from allocate(bytes), from any thread.
void deallocate(void* block, std::size_t bytes) noexcept;

// Bytes of regions reserved so far (0 in an AddressSanitizer build); for tests.
std::size_t reserved_bytes();

}  // namespace herd::record_pool
