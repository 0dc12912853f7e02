#include "core/record_pool.hpp"

#include <sys/mman.h>

#include <pthread.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
#define HERD_RECORD_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HERD_RECORD_POOL_BYPASS 1
#endif
#endif

namespace herd::record_pool {
namespace {

constexpr std::size_t kClasses = kMaxPooledBytes / kGranule + 1;  // class k: k * kGranule bytes
constexpr std::size_t kRegionBytes = 2 * 1024 * 1024;             // one huge page
constexpr std::uint32_t kBatch = 32;  // blocks moved between a thread and the pool at once
constexpr std::uint32_t kMaxCached = 2 * kBatch;  // per thread and class
constexpr std::size_t kSpares = 2;                // regions faulted in ahead

void* big(std::size_t bytes) {
  return ::operator new (bytes, std::align_val_t{16});
}
void free_big(void* block) {
  ::operator delete (block, std::align_val_t{16});
}

#ifndef HERD_RECORD_POOL_BYPASS

struct FreeBlock {
  FreeBlock* next;
};

// A 2 MiB region aligned on 2 MiB, so that it can be one transparent huge page; its
// pages are touched (faulted in) when `touch`.
char* map_region(bool touch) {
  void* m =
      mmap(nullptr, 2 * kRegionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(m);
  const std::uintptr_t aligned = (start + kRegionBytes - 1) & ~(kRegionBytes - 1);
  if (aligned > start) munmap(m, aligned - start);
  const std::uintptr_t end = aligned + kRegionBytes;
  if (start + 2 * kRegionBytes > end)
    munmap(reinterpret_cast<void*>(end), start + 2 * kRegionBytes - end);
  // Only a hint: without transparent huge pages (or with them off) the region is 4 KiB pages.
  madvise(reinterpret_cast<void*>(aligned), kRegionBytes, MADV_HUGEPAGE);
  auto* r = reinterpret_cast<char*>(aligned);
  if (touch) {
    for (std::size_t i = 0; i < kRegionBytes; i += 4096) static_cast<volatile char*>(r)[i] = 0;
  }
  return r;
}

struct Pool {
  std::mutex mu;  // guards the fields below
  std::array<FreeBlock*, kClasses> free{};
  char* bump = nullptr;
  char* bump_end = nullptr;
  // Regions faulted in ahead by the helper thread: a fresh huge page costs milliseconds to
  // fault in on this machine (zeroed, and backed by the hypervisor), which a server loop
  // must not wait for. The helper starts with the first region taken.
  std::array<char*, kSpares> spares{};
  std::size_t nspares = 0;
  bool helper_started = false;
  std::condition_variable wanted;
  std::atomic<std::size_t> reserved{0};
  std::atomic<std::size_t> faulted_inline{0};

  void helper() {
    std::unique_lock lock(mu);
    for (;;) {
      wanted.wait(lock, [this] { return nspares < kSpares; });
      lock.unlock();
      char* r = map_region(true);
      lock.lock();
      if (!r) return;  // regions are mapped where needed from now on
      spares[nspares++] = r;
    }
  }

  // A region for the bump allocator (under mu).
  char* next_region() {
    if (!helper_started) {
      helper_started = true;
      try {
        std::thread([this] {
          pthread_setname_np(pthread_self(), "herd-pool");
          helper();
        }).detach();  // lives as long as the process (the pool is never destroyed)
      } catch (const std::system_error&) {
        // No helper: every region is mapped and faulted in where it is needed.
      }
    }
    wanted.notify_one();
    char* r = nullptr;
    if (nspares > 0) {
      r = spares[--nspares];
    } else {
      r = map_region(false);
      if (!r) throw std::bad_alloc();
      faulted_inline.fetch_add(1, std::memory_order_relaxed);
    }
    reserved.fetch_add(kRegionBytes, std::memory_order_relaxed);
    return r;
  }
};

// Never destroyed: records may be freed while the process exits.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

// One block of class k from the pool (under p.mu).
FreeBlock* take(Pool& p, std::size_t k) {
  if (FreeBlock* b = p.free[k]) {
    p.free[k] = b->next;
    return b;
  }
  const std::size_t size = k * kGranule;
  if (static_cast<std::size_t>(p.bump_end - p.bump) < size) {
    p.bump = p.next_region();  // the old region's tail, under 512 bytes, stays unused
    p.bump_end = p.bump + kRegionBytes;
  }
  auto* b = reinterpret_cast<FreeBlock*>(p.bump);
  p.bump += size;
  return b;
}

// A thread's free blocks. Trivially destructible, so it stays usable to the thread's very
// end; the flusher below empties it when the thread ends, and closes it.
struct Cache {
  std::array<FreeBlock*, kClasses> head{};
  std::array<std::uint32_t, kClasses> count{};
  bool registered = false;  // the flusher is armed
  bool closed = false;      // the thread is ending: blocks go to and come from the pool
};
thread_local Cache t_cache;

// Moves n cached blocks of class k to the pool.
void give_back(Cache& c, std::size_t k, std::uint32_t n) {
  if (n == 0) return;
  FreeBlock* first = c.head[k];
  FreeBlock* last = first;
  for (std::uint32_t i = 1; i < n; ++i) last = last->next;
  c.head[k] = last->next;
  c.count[k] -= n;
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  last->next = p.free[k];
  p.free[k] = first;
}

struct Flusher {
  ~Flusher() {
    Cache& c = t_cache;
    for (std::size_t k = 1; k < kClasses; ++k) give_back(c, k, c.count[k]);
    c.closed = true;
  }
  void arm() {}
};
thread_local Flusher t_flusher;

void register_thread(Cache& c) {
  c.registered = true;
  t_flusher.arm();  // constructs it, so that its destructor runs at the thread's end
}

#endif

}  // namespace

void* allocate(std::size_t bytes) {
#ifdef HERD_RECORD_POOL_BYPASS
  return big(bytes);
#else
  if (bytes > kMaxPooledBytes) return big(bytes);
  const std::size_t k = bytes == 0 ? 1 : (bytes + kGranule - 1) / kGranule;
  Cache& c = t_cache;
  if (!c.head[k]) {
    if (!c.registered) register_thread(c);
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    if (c.closed) return take(p, k);
    for (std::uint32_t n = 0; n < kBatch; ++n) {
      FreeBlock* b = take(p, k);
      b->next = c.head[k];
      c.head[k] = b;
    }
    c.count[k] += kBatch;
  }
  FreeBlock* b = c.head[k];
  c.head[k] = b->next;
  --c.count[k];
  return b;
#endif
}

void deallocate(void* block, std::size_t bytes) noexcept {
#ifdef HERD_RECORD_POOL_BYPASS
  (void)bytes;
  free_big(block);
#else
  if (bytes > kMaxPooledBytes) {
    free_big(block);
    return;
  }
  const std::size_t k = bytes == 0 ? 1 : (bytes + kGranule - 1) / kGranule;
  auto* b = static_cast<FreeBlock*>(block);
  Cache& c = t_cache;
  if (c.closed) {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    b->next = p.free[k];
    p.free[k] = b;
    return;
  }
  if (!c.registered) register_thread(c);
  b->next = c.head[k];
  c.head[k] = b;
  if (++c.count[k] > kMaxCached) give_back(c, k, kBatch);
#endif
}

std::size_t regions_faulted_inline() {
#ifdef HERD_RECORD_POOL_BYPASS
  return 0;
#else
  return pool().faulted_inline.load(std::memory_order_relaxed);
#endif
}

std::size_t reserved_bytes() {
#ifdef HERD_RECORD_POOL_BYPASS
  return 0;
#else
  return pool().reserved.load(std::memory_order_relaxed);
#endif
}

}  // namespace herd::record_pool
