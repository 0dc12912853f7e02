#include "core/prometheus.hpp"

#include <cmath>
#include <cstdio>

namespace herd {
namespace {

void append_value(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  out += buf;
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

void PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusWriter::sample(std::string_view name, double value,
                              const std::vector<std::pair<std::string_view, std::string>>& labels) {
  out_.append(name);
  if (!labels.empty()) {
    out_.push_back('{');
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out_.push_back(',');
      out_.append(labels[i].first).append("=\"");
      append_label_value(out_, labels[i].second);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
  append_value(out_, value);
  out_.push_back('\n');
}

void PrometheusWriter::histogram(std::string_view name, const std::vector<double>& bounds,
                                 const std::vector<std::uint64_t>& counts, double sum) {
  std::uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    std::string le;
    append_value(le, bounds[i]);
    sample(bucket, static_cast<double>(cumulative), {{"le", le}});
  }
  cumulative += counts.back();
  sample(bucket, static_cast<double>(cumulative), {{"le", "+Inf"}});
  sample(std::string(name) + "_sum", sum);
  sample(std::string(name) + "_count", static_cast<double>(cumulative));
}

}  // namespace herd
