// Prometheus text exposition (the admin listener's /metrics).
#include <doctest/doctest.h>

#include "core/prometheus.hpp"

TEST_CASE("families, labels with escaping, and cumulative histograms") {
  herd::PrometheusWriter w;
  w.family("x_total", "counter", "Things.");
  w.sample("x_total", 3);
  w.sample("x_total", 1.5, {{"k", "a\"b\\c\nd"}});
  w.family("h_seconds", "histogram", "Times.");
  w.histogram("h_seconds", {0.1, 1}, {2, 0, 1}, 2.25);
  CHECK(w.text() ==
        "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\nx_total{k=\"a\\\"b\\\\c\\nd\"} "
        "1.5\n"
        "# HELP h_seconds Times.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"0.1\"} 2\n"
        "h_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum "
        "2.25\nh_seconds_count 3\n");
}
