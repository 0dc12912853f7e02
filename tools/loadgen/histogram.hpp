#pragma once
// A log-linear latency histogram in the manner of HdrHistogram: values in microseconds,
// 64 linear sub-buckets per power of two (under 1.6% relative error), from 1 us to
// about 2^40 us. Recording is O(1) and allocation-free; histograms merge by addition.
#include <array>
#include <bit>
#include <cstdint>

class LatencyHistogram {
 public:
  void record(std::uint64_t us) {
    ++counts_[index_of(us)];
    ++total_;
    if (us > max_) max_ = us;
  }
  void merge(const LatencyHistogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  // The smallest recorded bucket value v with at least q of the samples <= v
  // (the bucket's upper edge, so percentiles never flatter).
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want && counts_[i] != 0) return std::min(upper_of(i), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 6;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kMagnitudes = 40;

  static std::size_t index_of(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    unsigned shift = msb - kSubBits;
    if (shift + 1 >= kMagnitudes) return kSub * kMagnitudes - 1;
    return static_cast<std::size_t>((shift + 1) * kSub + ((v >> shift) & (kSub - 1)));
  }
  static std::uint64_t upper_of(std::size_t i) {
    if (i < kSub) return i;
    unsigned shift = static_cast<unsigned>(i / kSub) - 1;
    std::uint64_t base = (std::uint64_t{1} << (shift + kSubBits)) + ((i % kSub) << shift);
    return base + (std::uint64_t{1} << shift) - 1;
  }

  std::array<std::uint64_t, kSub * kMagnitudes> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};
