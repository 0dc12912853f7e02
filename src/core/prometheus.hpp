#pragma once
// Prometheus text exposition format (version 0.0.4), written by hand. Pure.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

class PrometheusWriter {
 public:
  // Starts a metric family: "# HELP" and "# TYPE" lines. type: counter, gauge, histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);

  // One sample. labels are "key", "value" pairs; values are escaped.
  void sample(std::string_view name, double value,
              const std::vector<std::pair<std::string_view, std::string>>& labels = {});

  // A histogram's samples: cumulative _bucket lines for each upper bound (then +Inf),
  // _sum and _count. counts[i] is the number of observations in bucket i (not
  // cumulative); counts has bounds.size() + 1 entries, the last for +Inf.
  void histogram(std::string_view name, const std::vector<double>& bounds,
                 const std::vector<std::uint64_t>& counts, double sum);

  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace herd
