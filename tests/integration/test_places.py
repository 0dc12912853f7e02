"""WHATSAT through the Google providers against tools/places-stub on 127.0.0.1
(PROTOCOL.md section 4): both APIs, every failure answered cleanly, coalescing,
request order with slow lookups, and the API key kept out of replies and logs."""
import json
import os
import select
import subprocess
import time
import urllib.request

from harness import HERD_BIN, HerdTestCase, free_ports, scaled, wait_until

STUB = os.environ.get("PLACES_STUB", os.path.join(os.path.dirname(HERD_BIN), "..", "tools", "places-stub",
                                                  "places-stub"))
KEY = "sekrit-KEY-0123456789"
LEGACY_PATH = "/maps/api/place/nearbysearch/json"
NEW_PATH = "/v1/places:searchNearby"


class Stub:
    def __init__(self, *args):
        (self.port,) = free_ports(1)
        self.proc = subprocess.Popen([STUB, "--port", str(self.port), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise AssertionError(f"places-stub did not start: {line} {self.proc.stderr.read()}")

    def requests(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.loads(r.read())["requests"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def body_of(reply):
    at, _, rest = reply.partition(b"\n")
    return at, rest


class PlacesTestCase(HerdTestCase):
    secret = KEY  # never in a reply

    def start(self, provider="google-legacy", stub_args=(), timeout_ms=None, endpoint=None, workers=2,
              stub_key=KEY):
        # Lookups that are meant to succeed get ample time, even in the sanitizer builds.
        timeout_ms = timeout_ms or int(10000 * scaled(1))
        stub = Stub("--key", stub_key, *stub_args)
        self.addCleanup(stub.stop)
        path = LEGACY_PATH if provider == "google-legacy" else NEW_PATH
        endpoint = endpoint or f"http://127.0.0.1:{stub.port}{path}"
        h = self.herd(places_extra=f'provider = "{provider}"\nendpoint = "{endpoint}"\ntimeout_ms = {timeout_ms}',
                      env_extra={"GOOGLE_PLACES_API_KEY": KEY}, workers=workers)
        h.start()
        c = h.client()
        self.addCleanup(c.close)
        c.request("IAMAT kiwi +34.068930-118.445127 1621464827.959498503")
        return h, stub, c

    def whatsat(self, c, radius=10, bound=5, cid="kiwi"):
        c.send(f"WHATSAT {cid} {radius} {bound}\n")
        reply = c.read_whatsat()
        at, body = body_of(reply)
        self.assertTrue(at.startswith(b"AT Ball "), reply)
        self.assertTrue(body.endswith(b"}\n\n"), reply)
        self.assertNotIn(b"\n\n", body[:-2])
        self.assertNotIn(b"\r", body)
        self.assertNotIn(self.secret.encode(), reply)
        return json.loads(body)

    def check_coalescing(self, radius, clients):
        """Identical WHATSATs in flight at once: fewer upstream requests, each bound kept."""
        h, stub, c = self.start(stub_args=("--latency-ms", str(int(500 * scaled(1)))), workers=1)
        before = stub.requests()
        conns = [h.client() for _ in range(clients)]
        for i, cc in enumerate(conns):
            cc.send(f"WHATSAT kiwi {radius} {i + 1}\n")
        for i, cc in enumerate(conns):
            doc = json.loads(body_of(cc.read_whatsat())[1])
            self.assertEqual(len(doc["results"]), i + 1)  # each waiter gets its own bound
            cc.close()
        self.assertLess(stub.requests() - before, clients)
        h.wait_for_log("Ball", "coalesced")

    def assert_error(self, doc, status, message_part=""):
        self.assertEqual(doc["status"], status, doc)
        self.assertEqual(doc["results"], [])
        self.assertEqual(doc["html_attributions"], [])
        self.assertIn(message_part, doc["error_message"])


class LegacyTest(PlacesTestCase):
    def test_results_cut_to_the_bound_and_other_members_kept(self):
        h, stub, c = self.start(stub_args=("--crlf",))
        doc = self.whatsat(c, 10, 3)
        self.assertEqual(doc["status"], "OK")
        self.assertEqual([r["name"] for r in doc["results"]], ["Stub Place 0", "Stub Place 1", "Stub Place 2"])
        self.assertEqual(doc["html_attributions"], [])
        # The stub places results just past the location it was asked about.
        self.assertAlmostEqual(doc["results"][0]["geometry"]["location"]["lat"], 34.06903, places=5)
        self.assertAlmostEqual(doc["results"][0]["geometry"]["location"]["lng"], -118.445027, places=5)
        self.assertEqual(len(self.whatsat(c, 50, 20)["results"]), 20)
        h.wait_for_log("Ball", "places google-legacy lookup at +34.068930-118.445127 radius 10000 m: OK, HTTP 200")
        h.wait_for_log("Ball", "radius 50000 m")
        h.stop("Ball")
        self.assertNotIn(KEY, h.log("Ball"))

    def test_bounds_1_5_20_with_more_results_upstream(self):
        h, stub, c = self.start(stub_args=("--results", "25"))
        for bound in (1, 5, 20):
            doc = self.whatsat(c, 10, bound)
            self.assertEqual([r["place_id"] for r in doc["results"]], [f"stub-{i}" for i in range(bound)])
        h2, stub2, c2 = self.start(provider="google", stub_args=("--results", "25"))
        for bound in (1, 5, 20):
            doc = self.whatsat(c2, 10, bound)
            self.assertEqual([r["place_id"] for r in doc["results"]], [f"ChIJstub{i}" for i in range(bound)])

    def test_without_coalescing_every_lookup_goes_upstream(self):
        stub = Stub("--key", KEY, "--latency-ms", str(int(300 * scaled(1))))
        self.addCleanup(stub.stop)
        h = self.herd(places_extra=f'provider = "google-legacy"\nendpoint = "http://127.0.0.1:{stub.port}{LEGACY_PATH}"'
                                   "\ncoalesce = false", env_extra={"GOOGLE_PLACES_API_KEY": KEY}, workers=1)
        h.start()
        c = h.client()
        self.addCleanup(c.close)
        c.request("IAMAT kiwi +34.068930-118.445127 1")
        c.send("WHATSAT kiwi 10 5\n" * 10)
        for _ in range(10):
            c.read_whatsat()
        self.assertEqual(stub.requests(), 10)
        # The log names the radius alone (the uncoalesced lookup key has a serial number).
        h.wait_for_log("Ball", "radius 10000 m: OK, HTTP 200")

    def test_a_legacy_status_is_passed_through(self):
        h, stub, c = self.start(stub_args=("--legacy-status", "ZERO_RESULTS"))
        doc = self.whatsat(c)
        self.assertEqual(doc["status"], "ZERO_RESULTS")
        self.assertNotIn("error_message", doc)

    def test_a_wrong_key_is_request_denied_and_never_echoed(self):
        h, stub, c = self.start(stub_key="the-right-key")
        doc = self.whatsat(c)
        self.assertEqual(doc["status"], "REQUEST_DENIED")
        self.assertIn("API key is invalid", doc["error_message"])

    def test_http_errors_map_to_status_words(self):
        for code, word in ((403, "REQUEST_DENIED"), (401, "REQUEST_DENIED"), (429, "OVER_QUERY_LIMIT"),
                           (400, "INVALID_REQUEST"), (500, "UNKNOWN_ERROR"), (503, "UNKNOWN_ERROR")):
            with self.subTest(code=code):
                h, stub, c = self.start(stub_args=("--status", str(code)))
                self.assert_error(self.whatsat(c), word, f"HTTP {code}")
                c.close()
                h.stop_all()

    def test_bodies_that_are_not_json_or_not_the_right_shape(self):
        for args, part in ((("--garbage",), "not JSON"), (("--wrong-shape",), "not a JSON object")):
            with self.subTest(args=args):
                h, stub, c = self.start(stub_args=args)
                self.assert_error(self.whatsat(c), "UNKNOWN_ERROR", part)
                c.close()
                h.stop_all()

    def test_closed_connection_and_refused_connection(self):
        h, stub, c = self.start(stub_args=("--close",))
        self.assert_error(self.whatsat(c), "UNKNOWN_ERROR", "cannot reach the provider")
        c.close()
        h.stop_all()
        (dead,) = free_ports(1)
        h, stub, c = self.start(endpoint=f"http://127.0.0.1:{dead}{LEGACY_PATH}")
        self.assert_error(self.whatsat(c), "UNKNOWN_ERROR", "cannot reach the provider")

    def test_time_outs_end_the_lookup_and_the_server_keeps_serving(self):
        timeout_ms = int(300 * scaled(1))
        for args in (("--latency-ms", str(timeout_ms * 10)), ("--slow-body-ms", str(timeout_ms * 10))):
            with self.subTest(args=args):
                h, stub, c = self.start(stub_args=args, timeout_ms=timeout_ms)
                c.send("WHATSAT kiwi 10 5\n")
                other = h.client()
                self.assertTrue(other.request("IAMAT during +1+1 1").startswith(b"AT Ball "))
                other.close()
                at, body = body_of(c.read_whatsat())
                self.assert_error(json.loads(body), "UNKNOWN_ERROR", f"did not answer within {timeout_ms} ms")
                c.close()
                h.stop_all()


class NewApiTest(PlacesTestCase):
    def test_places_are_translated_into_the_legacy_shape(self):
        h, stub, c = self.start(provider="google")
        doc = self.whatsat(c, 10, 2)
        self.assertEqual(doc["status"], "OK")
        self.assertEqual(len(doc["results"]), 2)
        r = doc["results"][0]
        self.assertEqual(r["name"], "Stub Place 0")
        self.assertEqual(r["place_id"], "ChIJstub0")
        self.assertEqual(r["vicinity"], "1 Stub Street")
        self.assertEqual(r["types"], ["restaurant", "food"])
        self.assertEqual(r["business_status"], "OPERATIONAL")
        self.assertEqual(r["user_ratings_total"], 3)
        self.assertEqual(r["rating"], 4.0)
        self.assertAlmostEqual(r["geometry"]["location"]["lat"], 34.06903, places=5)
        h.wait_for_log("Ball", "places google lookup at +34.068930-118.445127 radius 10000 m: OK, HTTP 200")

    def test_error_bodies_and_failures(self):
        for args, word, part in ((("--status", "403"), "REQUEST_DENIED", "stub error"),
                                 (("--status", "429"), "OVER_QUERY_LIMIT", "stub error"),
                                 (("--status", "400"), "INVALID_REQUEST", "stub error"),
                                 (("--status", "500"), "UNKNOWN_ERROR", "stub error"),
                                 (("--garbage",), "UNKNOWN_ERROR", "not JSON"),
                                 (("--wrong-shape",), "UNKNOWN_ERROR", "not an array")):
            with self.subTest(args=args):
                h, stub, c = self.start(provider="google", stub_args=args)
                self.assert_error(self.whatsat(c), word, part)
                c.close()
                h.stop_all()

    def test_a_wrong_key_is_request_denied(self):
        h, stub, c = self.start(provider="google", stub_key="the-right-key")
        self.assert_error(self.whatsat(c), "REQUEST_DENIED", "API key not valid")


class ConcurrencyTest(PlacesTestCase):
    def test_identical_lookups_in_flight_share_one_upstream_request(self):
        self.check_coalescing(radius=10, clients=20)

    def test_replies_stay_in_request_order_behind_a_slow_lookup(self):
        h, stub, c = self.start(stub_args=("--latency-ms", str(int(300 * scaled(1)))))
        c.send("WHATSAT kiwi 10 1\nIAMAT fast +1+1 1\nWHATSAT kiwi 20 2\nbad\n")
        self.assertEqual(len(json.loads(body_of(c.read_whatsat())[1])["results"]), 1)
        self.assertIn(b" fast +1+1 1\n", c.read_line())
        self.assertEqual(len(json.loads(body_of(c.read_whatsat())[1])["results"]), 2)
        self.assertEqual(c.read_line(), b"? bad\n")

    def test_hundreds_of_lookups_waiting_do_not_hold_up_iamat(self):
        latency = int(2000 * scaled(1))
        h, stub, c = self.start(stub_args=("--latency-ms", str(latency)), timeout_ms=latency * 4, workers=1)
        # 200 distinct lookups: 64 go upstream at once, the rest wait for a slot.
        c.send("".join(f"WHATSAT kiwi {1 + i / 100:.2f} 1\n" for i in range(200)))
        other = h.client()
        for i in range(20):
            self.assertTrue(other.request(f"IAMAT quick{i} +1+1 1").startswith(b"AT Ball "))
        # The IAMATs were answered while every lookup was still waiting on the stub.
        ready, _, _ = select.select([c.sock], [], [], 0)
        self.assertEqual(ready, [], "a WHATSAT reply arrived before the stub's latency")
        other.close()
        for _ in range(200):
            doc = json.loads(body_of(c.read_whatsat())[1])
            self.assertEqual(doc["status"], "OK", doc)

    def test_a_client_that_leaves_before_its_lookup_ends(self):
        h, stub, c = self.start(stub_args=("--latency-ms", str(int(300 * scaled(1)))))
        c.send("WHATSAT kiwi 10 5\n" * 5)
        c.close()
        time.sleep(scaled(0.6))
        d = h.client()
        self.assertTrue(d.request("IAMAT still +1+1 1").startswith(b"AT Ball "))
        d.close()
        h.stop("Ball")  # exit 0, no sanitizer report


class StartupTest(HerdTestCase):
    def test_a_google_provider_without_a_key_refuses_to_start(self):
        h = self.herd(places_extra='provider = "google"')
        env = dict(h.env)
        env.pop("GOOGLE_PLACES_API_KEY", None)
        r = subprocess.run([HERD_BIN, "--config", h.config, "--name", "Ball"], capture_output=True, text=True,
                           env=env, timeout=scaled(20))
        self.assertEqual(r.returncode, 1)
        self.assertIn('places provider "google" needs an API key in $GOOGLE_PLACES_API_KEY', r.stderr)
