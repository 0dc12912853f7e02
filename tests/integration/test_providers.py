"""WHATSAT through the x and wikipedia providers against tools/places-stub on 127.0.0.1
(PROTOCOL.md section 4): answers translated into the legacy shape, bounds, radius limits,
every failure answered cleanly, coalescing, and the bearer token kept out of replies and
logs."""
import json
import subprocess
import urllib.request

from harness import HERD_BIN, HerdTestCase, free_ports, scaled
from test_places import PlacesTestCase, Stub

X_PATH = "/2/tweets/search/recent"
WIKI_PATH = "/w/api.php"
TOKEN = "x-bearer-TOKEN-9876543210"


def stub_stats(stub):
    with urllib.request.urlopen(f"http://127.0.0.1:{stub.port}/stats", timeout=5) as r:
        return json.loads(r.read())


class ProviderCase(PlacesTestCase):
    provider = None
    path = None
    secret = TOKEN

    def start(self, stub_args=(), timeout_ms=None, endpoint=None, workers=2, stub_key=TOKEN):
        timeout_ms = timeout_ms or int(10000 * scaled(1))
        stub = Stub("--key", stub_key, *stub_args)
        self.addCleanup(stub.stop)
        endpoint = endpoint or f"http://127.0.0.1:{stub.port}{self.path}"
        env = {"X_BEARER_TOKEN": TOKEN} if self.provider == "x" else {}
        h = self.herd(places_extra=f'provider = "{self.provider}"\nendpoint = "{endpoint}"\n'
                                   f"timeout_ms = {timeout_ms}", env_extra=env, workers=workers)
        h.start()
        c = h.client()
        self.addCleanup(c.close)
        c.request("IAMAT kiwi +34.068930-118.445127 1621464827.959498503")
        self.addCleanup(lambda: self.assertNotIn(TOKEN, h.log("Ball")))
        return h, stub, c

    def each_failure(self, cases):
        for args, word, part in cases:
            with self.subTest(args=args):
                h, stub, c = self.start(stub_args=args)
                self.assert_error(self.whatsat(c), word, part)
                c.close()
                h.stop_all()


class XTest(ProviderCase):
    provider = "x"
    path = X_PATH

    def test_posts_newest_first_in_the_legacy_shape(self):
        h, stub, c = self.start()
        doc = self.whatsat(c, radius=10, bound=5)
        self.assertEqual(doc["status"], "OK")
        self.assertEqual(doc["html_attributions"], ["Posts from X (https://x.com)"])
        posts = doc["results"]
        self.assertEqual(len(posts), 5)
        ids = [int(p["place_id"]) for p in posts]
        self.assertEqual(ids, sorted(ids, reverse=True))
        first = posts[0]
        self.assertEqual(first["types"], ["post"])
        self.assertEqual(first["name"], 'Stub post 0: "quoted" café \U0001F600\nsecond line')
        self.assertEqual(first["author"], "stub_user_0")
        self.assertEqual(first["created_at"], "2026-11-29T20:59:00.000Z")
        self.assertEqual(first["vicinity"], "Stubville, XX")
        # Post 0 carries its own point; post 1 only its place, whose box is centred on kiwi.
        self.assertAlmostEqual(first["geometry"]["location"]["lat"], 34.069930, places=6)
        self.assertAlmostEqual(first["geometry"]["location"]["lng"], -118.444127, places=6)
        self.assertAlmostEqual(posts[1]["geometry"]["location"]["lat"], 34.068930, places=6)
        self.assertEqual(posts[1]["vicinity"], "Stub Heights, XX")
        target = stub_stats(stub)["last_target"]
        self.assertIn("query=point_radius%3A%5B-118.445127%2034.068930%2010km%5D", target)
        self.assertIn("max_results=20", target)

    def test_bounds_1_5_20(self):
        h, stub, c = self.start(stub_args=("--results", "30"))
        for bound in (1, 5, 20):
            with self.subTest(bound=bound):
                self.assertEqual(len(self.whatsat(c, bound=bound)["results"]), bound)

    def test_radius_edges_a_radius_past_x_limit_searches_40_km(self):
        h, stub, c = self.start()
        # The stub refuses radii of 0 or of 25 miles and more, as X does.
        for radius, searched in (("50", "40km"), ("40.2", "40km"), ("40", "40km"), ("0.0001", "0.001km"),
                                 ("0.5", "0.5km")):
            with self.subTest(radius=radius):
                doc = self.whatsat(c, radius=radius)
                self.assertIn(f"%20{searched}%5D", stub_stats(stub)["last_target"])
                self.assertEqual(doc["status"], "OK")
        h.wait_for_log("Ball", "radius 50000 m (searched 40000 m, the API's limit): OK")

    def test_no_posts_is_zero_results(self):
        h, stub, c = self.start(stub_args=("--results", "0"))
        doc = self.whatsat(c)
        self.assertEqual(doc["status"], "ZERO_RESULTS")
        self.assertEqual(doc["results"], [])

    def test_a_wrong_token_is_request_denied_and_never_echoed(self):
        h, stub, c = self.start(stub_key="the-right-token")
        self.assert_error(self.whatsat(c), "REQUEST_DENIED", "X answered HTTP 401: Unauthorized")

    def test_http_errors_map_to_status_words_429_with_the_reset_time(self):
        self.each_failure(((("--status", "401"), "REQUEST_DENIED", "HTTP 401"),
                           (("--status", "403"), "REQUEST_DENIED", "not permitted"),
                           (("--status", "429"), "OVER_QUERY_LIMIT", "rate limit is reached; it resets at 20"),
                           (("--status", "400"), "INVALID_REQUEST", "One or more parameters"),
                           (("--status", "503"), "UNKNOWN_ERROR", "HTTP 503")))

    def test_errors_with_http_200_bodies_of_the_wrong_shape_and_dead_upstreams(self):
        self.each_failure(((("--x-errors", "usage-capped"), "OVER_QUERY_LIMIT", "stub usage-capped problem"),
                           (("--x-errors", "invalid-request"), "INVALID_REQUEST", "stub invalid-request"),
                           (("--x-errors", "client-forbidden"), "REQUEST_DENIED", "stub client-forbidden"),
                           (("--garbage",), "UNKNOWN_ERROR", "not a JSON object"),
                           (("--wrong-shape",), "UNKNOWN_ERROR", "data is not an array"),
                           (("--close",), "UNKNOWN_ERROR", "cannot reach the provider")))
        timeout_ms = int(300 * scaled(1))
        h, stub, c = self.start(stub_args=("--latency-ms", str(timeout_ms * 10)), timeout_ms=timeout_ms)
        self.assert_error(self.whatsat(c), "UNKNOWN_ERROR", f"did not answer within {timeout_ms} ms")

    def test_identical_lookups_in_flight_share_one_search(self):
        self.check_coalescing(radius=10, clients=10)

    def test_without_a_token_the_server_refuses_to_start(self):
        h = self.herd(places_extra='provider = "x"')
        env = dict(h.env)
        env.pop("X_BEARER_TOKEN", None)
        r = subprocess.run([HERD_BIN, "--config", h.config, "--name", "Ball"], capture_output=True, text=True,
                           env=env, timeout=scaled(20))
        self.assertEqual(r.returncode, 1)
        self.assertIn('places provider "x" needs a bearer token in $X_BEARER_TOKEN', r.stderr)


class WikipediaTest(ProviderCase):
    provider = "wikipedia"
    path = WIKI_PATH

    def test_articles_nearest_first_in_the_legacy_shape(self):
        h, stub, c = self.start()
        doc = self.whatsat(c, radius=2, bound=20)
        self.assertEqual(doc["status"], "OK")
        self.assertIn("CC BY-SA", doc["html_attributions"][0])
        self.assertIn("Wikipedia (127.0.0.1)", doc["html_attributions"][0])
        articles = doc["results"]
        self.assertEqual(len(articles), 20)  # the page without coordinates is left out
        lats = [a["geometry"]["location"]["lat"] for a in articles]
        self.assertEqual(lats, sorted(lats))  # the stub spreads them north, listed out of order
        self.assertLess(lats[-1] - 34.068930, 2 / 111.2)
        first = articles[0]
        self.assertEqual(first["name"], "Stub Article 0")
        self.assertEqual(first["place_id"], "wikipedia:1000")
        self.assertEqual(first["types"], ["article"])
        self.assertEqual(first["url"], "https://en.wikipedia.org/wiki/Stub_Article_0")
        self.assertEqual(first["vicinity"], "Stub description 0")
        self.assertEqual(articles[4]["vicinity"], "")  # no description
        target = stub_stats(stub)["last_target"]
        self.assertIn("ggscoord=34.068930%7C-118.445127&ggsradius=2000&ggslimit=20", target)

    def test_bounds_1_5_20(self):
        h, stub, c = self.start(stub_args=("--results", "30"))
        for bound in (1, 5, 20):
            with self.subTest(bound=bound):
                doc = self.whatsat(c, bound=bound)
                self.assertEqual(len(doc["results"]), bound)
                self.assertEqual(doc["results"][0]["place_id"], "wikipedia:1000")

    def test_radius_edges_geosearch_searches_10_m_to_10_km(self):
        h, stub, c = self.start()
        for radius, searched in (("50", 10000), ("10", 10000), ("9.9995", 10000), ("0.5", 500),
                                 ("0.001", 10)):
            with self.subTest(radius=radius):
                doc = self.whatsat(c, radius=radius)
                self.assertIn(f"&ggsradius={searched}&", stub_stats(stub)["last_target"])
                if radius == "0.001":
                    # Searched 10 m: of the 20 stub articles (0.45 m apart), the 2 within
                    # the 1 m asked.
                    self.assertEqual(len(doc["results"]), 2)
                    self.assertLess(doc["results"][1]["geometry"]["location"]["lat"] - 34.068930, 1 / 111320)
                else:
                    self.assertEqual(doc["status"], "OK")
        h.wait_for_log("Ball", "radius 50000 m (searched 10000 m, the API's limit): OK")

    def test_nothing_nearby_is_zero_results(self):
        h, stub, c = self.start(stub_args=("--results", "0"))
        doc = self.whatsat(c)
        self.assertEqual(doc["status"], "ZERO_RESULTS")
        self.assertNotIn("error_message", doc)

    def test_mediawiki_errors_http_errors_and_dead_upstreams(self):
        self.each_failure(((("--wiki-error", "ratelimited"), "OVER_QUERY_LIMIT", "(ratelimited): stub ratelimited"),
                           (("--wiki-error", "readapidenied"), "REQUEST_DENIED", "readapidenied"),
                           (("--wiki-error", "badvalue"), "INVALID_REQUEST", "badvalue"),
                           (("--wiki-error", "internal_api_error_DBQueryError"), "UNKNOWN_ERROR", "DBQueryError"),
                           (("--status", "503"), "UNKNOWN_ERROR", "127.0.0.1 answered HTTP 503"),
                           (("--status", "429"), "OVER_QUERY_LIMIT", "HTTP 429"),
                           (("--status", "403"), "REQUEST_DENIED", "HTTP 403"),
                           (("--garbage",), "UNKNOWN_ERROR", "not a JSON object"),
                           (("--wrong-shape",), "UNKNOWN_ERROR", "neither an array nor an object"),
                           (("--close",), "UNKNOWN_ERROR", "cannot reach the provider")))
        (dead,) = free_ports(1)
        h, stub, c = self.start(endpoint=f"http://127.0.0.1:{dead}{WIKI_PATH}")
        self.assert_error(self.whatsat(c), "UNKNOWN_ERROR", "cannot reach the provider")

    def test_the_user_agent_names_herd(self):
        # The stub answers 403 to a request without one, as Wikimedia does: an OK reply
        # means herd sent it.
        h, stub, c = self.start()
        self.assertEqual(self.whatsat(c)["status"], "OK")

    def test_identical_lookups_in_flight_share_one_search(self):
        self.check_coalescing(radius=3, clients=10)

    def test_a_key_is_refused_in_the_config(self):
        h = self.herd(places_extra='provider = "wikipedia"\nkey_env = "WIKI_KEY"')
        r = subprocess.run([HERD_BIN, "--config", h.config, "--name", "Ball"], capture_output=True, text=True,
                           env=h.env, timeout=scaled(20))
        self.assertEqual(r.returncode, 1)
        self.assertIn("places.key_env: the wikipedia provider takes no key", r.stderr)


del ProviderCase, PlacesTestCase, HerdTestCase  # only the concrete cases run
