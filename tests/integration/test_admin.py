"""The admin listener: /healthz, Prometheus /metrics after known traffic, herd --health."""
import os
import re
import subprocess
import urllib.error
import urllib.request

from harness import HERD_BIN, TOPOLOGY, HerdTestCase, scaled, wait_until


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=scaled(5)) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text, name, **labels):
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{want} not in metrics:\n{text}")


class AdminTest(HerdTestCase):
    def test_metrics_count_known_traffic(self):
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, admin=True)
        h.start("Ball")
        port = h.admin_ports["Ball"]
        c = h.client()
        c.send("IAMAT a +34.068930-118.445127 1\nIAMAT b +0+0 1\nIAMAT a +34.068930-118.445127 0\n"
               "WHATSAT a 10 2\nWHATSAT b 1 1\nWHATSAT nobody 1 1\nbogus\n\n")
        for _ in range(3):
            c.read_line()
        c.read_whatsat()
        c.read_whatsat()
        self.assertEqual(c.read_line(), b"? WHATSAT nobody 1 1\n")
        self.assertEqual(c.read_line(), b"? bogus\n")
        c.close()
        # Two connections: the harness's start-up probe and c; both closed.
        wait_until(lambda: (metric(get(port, "/metrics")[1], "herd_connections_open") == 0 and
                            metric(get(port, "/metrics")[1], "herd_connections_opened_total") == 2), 10, "the closes")
        status, text = get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(metric(text, "herd_connections_opened_total"), 2)  # the start-up probe and c
        self.assertEqual(metric(text, "herd_lines_total", command="IAMAT"), 3)
        self.assertEqual(metric(text, "herd_lines_total", command="WHATSAT"), 3)  # the unknown client counts here
        self.assertEqual(metric(text, "herd_lines_total", command="invalid"), 1)
        self.assertEqual(metric(text, "herd_lines_total", command="blank"), 1)
        self.assertEqual(metric(text, "herd_invalid_lines_total"), 2)  # bogus and the unknown client
        self.assertEqual(metric(text, "herd_replies_total"), 7)
        self.assertEqual(metric(text, "herd_records"), 2)
        self.assertEqual(metric(text, "herd_records_stored_total"), 2)  # the older IAMAT was not stored
        # Two records fit in the first record region, which the worker faulted in itself (the
        # pool's helper starts with it); an AddressSanitizer build uses operator new instead.
        asan = os.environ.get("HERD_TEST_SANITIZER") == "address"
        self.assertEqual(metric(text, "herd_record_pool_bytes"), 0 if asan else 2 * 1024 * 1024)
        self.assertEqual(metric(text, "herd_record_pool_regions_faulted_inline_total"), 0 if asan else 1)
        self.assertEqual(metric(text, "herd_places_lookups_total", status="OK"), 1)
        self.assertEqual(metric(text, "herd_places_lookups_total", status="ZERO_RESULTS"), 1)
        self.assertEqual(metric(text, "herd_places_lookup_seconds_count"), 2)
        self.assertEqual(metric(text, "herd_places_lookup_seconds_bucket", le="+Inf"), 2)
        self.assertEqual(metric(text, "herd_link_up", neighbor="Welsh"), 0)
        self.assertGreaterEqual(metric(text, "herd_loop_lag_seconds", worker="0"), 0)
        # Loop passes: many counted (this traffic took several), the longest within their sum.
        passes = metric(text, "herd_loop_pass_seconds_count")
        self.assertGreater(passes, 3)
        self.assertEqual(metric(text, "herd_loop_pass_seconds_bucket", le="+Inf"), passes)
        longest = metric(text, "herd_loop_pass_max_seconds", worker="0")
        self.assertGreater(longest, 0)
        self.assertLessEqual(longest, metric(text, "herd_loop_pass_seconds_sum") + 1e-6)
        self.assertIn("# TYPE herd_places_lookup_seconds histogram", text)
        h.start("Welsh")
        wait_until(lambda: metric(get(port, "/metrics")[1], "herd_link_up", neighbor="Welsh") == 1, 15,
                   "the link to Welsh in the metrics")

    def test_healthz_and_the_health_probe(self):
        h = self.herd(admin=True)
        h.start()
        port = h.admin_ports["Ball"]
        self.assertEqual(get(port, "/healthz"), (200, "ok\n"))
        self.assertEqual(get(port, "/nope")[0], 404)
        r = subprocess.run([HERD_BIN, "--health", f"127.0.0.1:{port}"], capture_output=True, text=True,
                           timeout=scaled(10))
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"))
        h.stop("Ball")
        r = subprocess.run([HERD_BIN, "--health", f"127.0.0.1:{port}"], capture_output=True, text=True,
                           timeout=scaled(10))
        self.assertEqual(r.returncode, 1)
        self.assertIn("unhealthy", r.stderr)
        self.assertTrue(re.search(r"admin listener on 127\.0\.0\.1 port \d+", h.log("Ball")))

    def test_admin_is_off_unless_configured(self):
        h = self.herd()
        h.start()
        h.stop("Ball")
        self.assertNotIn("admin listener", h.log("Ball"))
