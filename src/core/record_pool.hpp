#pragma once
// Memory for records. A record is one small block (8 bytes of header and its AT line,
// ~100 bytes) and a server holds millions, looked up at random: in malloc's 4 KiB pages
// each lookup is a TLB miss, and the table's lookahead could not hide those misses with
// prefetches (measured: the first touch of a stored record stayed 12% of the samples at
// P=16; in huge pages 3%). Here blocks of up to kMaxPooledBytes come in size classes of
// 8 bytes, carved from 2 MiB regions advised for transparent huge pages and faulted in
// ahead by a helper thread ("herd-pool"), with a cache of free blocks per thread and class
// (a record may be freed by any thread). Freed blocks are kept for blocks of the same
// class, never returned to the system. Larger blocks, and every block in an
// AddressSanitizer build (so that it still sees a use after free), come from operator new.
#include <cstddef>

namespace herd::record_pool {

constexpr std::size_t kGranule = 8;  // block sizes and alignment
constexpr std::size_t kMaxPooledBytes = 512;

// An 8-byte-aligned block of at least `bytes` bytes. Throws std::bad_alloc.
void* allocate(std::size_t bytes);
// Gives back a block from allocate(bytes), from any thread.
void deallocate(void* block, std::size_t bytes) noexcept;

// Bytes of the regions taken into use so far, not counting the up to two faulted in
// ahead (0 in an AddressSanitizer build); for tests.
std::size_t reserved_bytes();
// Regions that had to be mapped and faulted in by an allocating thread, because the
// helper thread had none ready; for tests and benchmarks.
std::size_t regions_faulted_inline();

}  // namespace herd::record_pool
