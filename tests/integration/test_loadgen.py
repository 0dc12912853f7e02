"""tools/loadgen against a real herd: the closed loop answers every request it sends, the
open loop keeps its schedule (its pacing timer drives the requests), and bad arguments
or a non-loopback address are refused. Bounded: a few thousand requests, about a second
each."""
import json
import os
import subprocess

from harness import HerdTestCase, scaled

LOADGEN = os.environ.get("LOADGEN", "build/tools/loadgen/loadgen")


def loadgen(*args):
    return subprocess.run([LOADGEN, *map(str, args)], capture_output=True, text=True, timeout=scaled(60))


class LoadgenTest(HerdTestCase):
    def setUp(self):
        super().setUp()
        self.h = self.herd(workers=1)
        self.server = self.h.start()

    def run_json(self, *args):
        r = loadgen("-p", self.h.ports["Ball"], "--json", "--quiet", "--server-pid", self.server.pid, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_closed_loop_answers_every_request_and_stores_the_clients(self):
        j = self.run_json("-c", 4, "-P", 4, "-n", 2000, "--sequential", "--clients", 500)
        self.assertEqual(j["replies"], 2000)
        self.assertEqual(j["errors"], 0)
        self.assertGreater(j["latency_us"]["max"], 0)
        self.assertGreaterEqual(j["server_cpu_s"], 0)  # /proc's clock ticks: 2,000 requests may read 0
        held = self.h.records("Ball", [f"client{i}" for i in range(500)])
        self.assertTrue(all(line is not None and line.startswith(b"AT Ball ") for line in held.values()))
        self.assertIsNone(self.h.record("Ball", "client500"))

    def test_open_loop_keeps_its_schedule(self):
        # 2,000 requests a second for 1.5 s: about 3,000 sent on schedule and answered,
        # however fast the server could go.
        j = self.run_json("-c", 4, "--rate", 2000, "-d", 1.5)
        self.assertEqual(j["errors"], 0)
        self.assertGreaterEqual(j["replies"], 2700)
        self.assertLessEqual(j["replies"], 3004)
        self.assertGreater(j["latency_us"]["p50"], 0)

    def test_bad_arguments_and_other_addresses_are_refused(self):
        for args in (["--rate", "-1"], ["-c", "0"], ["-d", "601"], ["--scenario", "nope"]):
            r = loadgen("-p", self.h.ports["Ball"], *args)
            self.assertEqual(r.returncode, 2, args)
        r = loadgen("-h", "192.0.2.1", "-p", self.h.ports["Ball"], "-n", 1)
        self.assertEqual(r.returncode, 2)
        self.assertIn("only loopback", r.stderr)
