"""One herd server over TCP: PROTOCOL.md sections 2 to 5 and 7, byte for byte."""
import json
import math
import os
import re
import socket
import time

from harness import SOURCE_ROOT, Client, HerdTestCase, scaled, wait_until

AT_RE = re.compile(rb"^AT Ball ([+-]\d+\.\d{9}) (\S+) (\S+) (\S+)\n$")


def load_places():
    places = []
    with open(os.path.join(SOURCE_ROOT, "data", "places.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            pid, name, lat, lng, vicinity = line.rstrip("\n").split("\t")
            places.append((pid, name, float(lat), float(lng), vicinity))
    return places


PLACES = None


def expected_ids(lat, lng, radius_km, bound):
    """An independent nearby search: haversine over every place, nearest first."""
    global PLACES
    if PLACES is None:
        PLACES = load_places()
    r = math.pi / 180
    found = []
    for i, (pid, _name, plat, plng, _v) in enumerate(PLACES):
        dlat, dlng = (plat - lat) * r, (plng - lng) * r
        h = math.sin(dlat / 2) ** 2 + math.cos(lat * r) * math.cos(plat * r) * math.sin(dlng / 2) ** 2
        d = 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))
        if d <= radius_km:
            found.append((d, i, pid))
    found.sort()
    return [pid for _d, _i, pid in found[:bound]]


class ServerTest(HerdTestCase):
    herd_extra = ""

    def setUp(self):
        super().setUp()
        self.h = self.herd(herd_extra=self.herd_extra)
        self.h.start()

    def client(self):
        c = self.h.client()
        self.addCleanup(c.close)
        return c


class IamatTest(ServerTest):
    def test_reply_is_the_at_line_with_fields_copied_byte_for_byte(self):
        c = self.client()
        before = time.time()
        reply = c.request("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")
        after = time.time()
        m = AT_RE.match(reply)
        self.assertIsNotNone(m, reply)
        self.assertEqual(m.group(2, 3, 4), (b"kiwi.cs.ucla.edu", b"+34.068930-118.445127", b"1621464827.959498503"))
        diff = float(m.group(1))
        self.assertGreaterEqual(diff, before - 1621464827.959498503 - 0.001)
        self.assertLessEqual(diff, after - 1621464827.959498503 + 0.001)

    def test_time_difference_sign_and_digits_for_past_and_future_times(self):
        c = self.client()
        future = time.time() + 1000
        m = AT_RE.match(c.request(f"IAMAT f +0+0 {future:.6f}"))
        self.assertTrue(m.group(1).startswith(b"-"), m.group(1))
        self.assertTrue(-1000.5 < float(m.group(1)) < -999, m.group(1))
        m = AT_RE.match(c.request("IAMAT p +0+0 0"))
        self.assertTrue(m.group(1).startswith(b"+17"), m.group(1))
        self.assertRegex(m.group(1), rb"^\+\d+\.\d{9}$")
        # Many fraction digits are copied as sent.
        m = AT_RE.match(c.request("IAMAT q +0+0 5.1234567891234"))
        self.assertEqual(m.group(4), b"5.1234567891234")

    def test_white_space_and_odd_bytes_in_ids(self):
        c = self.client()
        c.send(b"\t IAMAT \xc3\xa9\x01\xff\x7f  +1.5-2\f 7 \r\n")
        m = AT_RE.match(c.read_line())
        self.assertEqual(m.group(2, 3, 4), (b"\xc3\xa9\x01\xff\x7f", b"+1.5-2", b"7"))

    def test_only_a_newer_record_replaces_the_stored_one(self):
        c = self.client()
        newer = c.request("IAMAT n +10+10 100")
        older = c.request("IAMAT n +20+20 99")  # answered, not stored
        self.assertIn(b" n +20+20 99\n", older)
        c.send("WHATSAT n 1 1\n")
        self.assertTrue(c.read_whatsat().startswith(newer))
        newest = c.request("IAMAT n +30+30 100.000000001")
        c.send("WHATSAT n 1 1\n")
        self.assertTrue(c.read_whatsat().startswith(newest))

    def test_equal_times_keep_the_bytewise_greater_line(self):
        c = self.client()
        a = c.request("IAMAT t +10+10 100")
        b = c.request("IAMAT t +10+10 100.0")  # same time, different bytes
        c.send("WHATSAT t 1 1\n")
        self.assertTrue(c.read_whatsat().startswith(max(a, b)))


class WhatsatTest(ServerTest):
    def test_reply_is_stored_line_then_offline_json_then_two_newlines(self):
        c = self.client()
        at = c.request("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")
        c.send("WHATSAT kiwi.cs.ucla.edu 10 5\n")
        reply = c.read_whatsat()
        self.assertTrue(reply.startswith(at))
        body = reply[len(at):]
        self.assertTrue(body.endswith(b"}\n\n"))
        self.assertNotIn(b"\n\n", body[:-2])
        doc = json.loads(body)
        self.assertEqual(doc["status"], "OK")
        self.assertIn("GeoNames", doc["html_attributions"][0])
        ids = [r["place_id"] for r in doc["results"]]
        self.assertEqual(ids, expected_ids(34.068930, -118.445127, 10, 5))
        for r in doc["results"]:
            self.assertEqual(set(r), {"geometry", "name", "place_id", "types", "vicinity"})
            self.assertIn("lat", r["geometry"]["location"])

    def test_matches_an_independent_search_at_several_places(self):
        c = self.client()
        for i, (loc, lat, lng, radius, bound) in enumerate([("+48.8566+2.3522", 48.8566, 2.3522, 50, 20),
                                                           ("-33.87+151.21", -33.87, 151.21, 3.5, 7),
                                                           ("+64.1466-21.9426", 64.1466, -21.9426, 0.7, 1)]):
            c.request(f"IAMAT c{i} {loc} 1")
            c.send(f"WHATSAT c{i} {radius} {bound}\n")
            doc = json.loads(c.read_whatsat().split(b"\n", 1)[1])
            self.assertEqual([r["place_id"] for r in doc["results"]], expected_ids(lat, lng, radius, bound))

    def test_zero_results_far_from_any_place(self):
        c = self.client()
        c.request("IAMAT sea -45.0-140.0 1")
        c.send("WHATSAT sea 50 20\n")
        doc = json.loads(c.read_whatsat().split(b"\n", 1)[1])
        self.assertEqual(doc["status"], "ZERO_RESULTS")
        self.assertEqual(doc["results"], [])

    def test_bounds_and_radius_edges(self):
        c = self.client()
        c.request("IAMAT e +51.5-0.12 1")
        for ok in ("WHATSAT e 50 20", "WHATSAT e 50.0 1", "WHATSAT e 0.001 1"):
            c.send(ok + "\n")
            self.assertTrue(c.read_whatsat().startswith(b"AT Ball "), ok)
        c.send("WHATSAT e 50 20\n")
        self.assertEqual(len(json.loads(c.read_whatsat().split(b"\n", 1)[1])["results"]), 20)
        for bad in ("WHATSAT e 50.0001 1", "WHATSAT e 51 1", "WHATSAT e 0 1", "WHATSAT e 10 21", "WHATSAT e 10 0",
                    "WHATSAT e .5 1", "WHATSAT e 5. 1", "WHATSAT e +5 1", "WHATSAT e 1e1 1"):
            self.assertEqual(c.request(bad), f"? {bad}\n".encode())

    def test_unknown_client_is_invalid(self):
        c = self.client()
        self.assertEqual(c.request("WHATSAT nobody 10 5"), b"? WHATSAT nobody 10 5\n")


class InvalidInputTest(ServerTest):
    def test_every_malformed_line_is_echoed_and_the_connection_stays_open(self):
        c = self.client()
        bad = ["iamat a +0+0 1", "IAMAT a +0+0", "IAMAT a +0+0 1 x", "IAMAT a 34-118 1", "IAMAT a +34.0 1",
               "IAMAT a +34.0+-118.0 1", "IAMAT a +91+0 1", "IAMAT a +0+181 1", "IAMAT a +0+0 -1",
               "IAMAT a +0+0 1e5", "IAMAT a +0+0 9223372036854775808", "HELLO", "WHATSAT", "whatsat a 1 1",
               "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
               "IAMAT " + "x" * 257 + " +0+0 1", "  IAMAT\ta +0+0  ", "\x01\x02 junk \xff"]
        for line in bad:
            c.send(line.encode("latin-1") + b"\n")
            self.assertEqual(c.read_line(), b"? " + line.encode("latin-1") + b"\n", line)
        self.assertTrue(AT_RE.match(c.request("IAMAT ok +0+0 1")))

    def test_invalid_line_is_echoed_as_received_without_terminator(self):
        c = self.client()
        c.send(b"  bogus\t line  \r\n")
        self.assertEqual(c.read_line(), b"?   bogus\t line  \n")


class FramingTest(ServerTest):
    herd_extra = "max_line_bytes = 300"

    def test_pipelined_lines_are_answered_in_order(self):
        c = self.client()
        lines, expect = [], []
        for i in range(2000):
            if i % 3 == 0:
                lines.append(f"IAMAT p{i % 50} +1+1 {i}")
                expect.append(("AT", f" p{i % 50} +1+1 {i}\n"))
            elif i % 3 == 1:
                lines.append(f"bad {i}")
                expect.append(("?", f"? bad {i}\n"))
            else:
                lines.append(f"WHATSAT p0 1 1")
                expect.append(("W", None))
        c.send("\n".join(lines) + "\n")
        for kind, text in expect:
            if kind == "W":
                self.assertTrue(c.read_whatsat().startswith(b"AT Ball "))
            else:
                line = c.read_line().decode()
                self.assertTrue(line.endswith(text) if kind == "AT" else line == text, (line, text))

    def test_half_close_processes_the_final_unterminated_line_then_closes(self):
        c = self.client()
        c.send("IAMAT h +0+0 1\nIAMAT h2 +0+0 2")
        c.shutdown_write()
        out = c.read_to_eof()
        lines = out.split(b"\n")
        self.assertEqual(len(lines), 3, out)
        self.assertTrue(lines[0].endswith(b" h +0+0 1"))
        self.assertTrue(lines[1].endswith(b" h2 +0+0 2"))

    def test_half_close_after_a_whatsat_flushes_the_reply(self):
        c = self.client()
        c.request("IAMAT w +48.85+2.35 1")
        c.send("WHATSAT w 10 3")
        c.shutdown_write()
        out = c.read_to_eof()
        self.assertTrue(out.startswith(b"AT Ball ") and out.endswith(b"}\n\n"), out[-40:])

    def test_crlf_and_blank_lines(self):
        c = self.client()
        c.send("\r\n\n   \t\r\nIAMAT crlf +0+0 1\r\n\r\nbad\r\n")
        self.assertTrue(c.read_line().endswith(b" crlf +0+0 1\n"))
        self.assertEqual(c.read_line(), b"? bad\n")
        c.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            c.read_line()  # blank lines got no reply

    def test_byte_at_a_time(self):
        c = self.client()
        for b in b"IAMAT slow +1+1 1\r\nbad\n":
            c.send(bytes([b]))
        self.assertTrue(c.read_line().endswith(b" slow +1+1 1\n"))
        self.assertEqual(c.read_line(), b"? bad\n")

    def test_line_of_exactly_the_limit_is_accepted(self):
        c = self.client()
        line = "IAMAT " + "x" * (300 - len("IAMAT  +0+0 1")) + " +0+0 1"
        self.assertEqual(len(line), 300)
        c.send(line + "\r\n")
        self.assertEqual(c.read_line(), b"? " + line.encode() + b"\n")  # id over 256 bytes

    def test_over_long_line_closes_only_that_connection_after_owed_replies(self):
        other = self.client()
        c = self.client()
        c.send("IAMAT before +0+0 1\nbad\n" + "y" * 301 + "\nIAMAT after +0+0 1\n")
        out = c.read_to_eof()
        self.assertTrue(out.startswith(b"AT Ball "), out)
        self.assertTrue(out.endswith(b"? bad\n"), out)
        self.assertNotIn(b"after", out)
        self.h.wait_for_log("Ball", "line longer than 300 bytes")
        self.assertTrue(AT_RE.match(other.request("IAMAT other +0+0 1")))

    def test_slow_reader_gets_every_large_reply_intact(self):
        c = self.client()
        c.request("IAMAT big +48.8566+2.3522 1")
        c.send("WHATSAT big 50 20\n" * 3000)
        time.sleep(scaled(0.5))  # let the server hit back-pressure
        first = c.read_whatsat()
        self.assertGreater(len(first), 3000)
        for _ in range(2999):
            self.assertEqual(c.read_exact(len(first)), first)


class MultiCoreTest(HerdTestCase):
    def test_connections_land_on_several_workers_and_share_one_table(self):
        h = self.herd(workers=4)
        h.start()
        writer = h.client()
        writer.request("IAMAT shared +10+10 1")
        clients = [h.client() for _ in range(40)]
        for i, c in enumerate(clients):
            c.send(f"IAMAT mc{i} +0+0 1\nWHATSAT shared 1 1\n")
        for c in clients:
            self.assertTrue(c.read_line().startswith(b"AT Ball "))
            self.assertIn(b" shared +10+10 1\n", c.read_whatsat())
        for c in clients + [writer]:
            c.close()

        def workers_seen():
            seen = set(re.findall(r"open from \S+ on worker (\d+)", h.log("Ball")))
            return seen if len(seen) > 1 else None
        self.assertGreater(len(wait_until(workers_seen, 10, "connections on several workers")), 1)


class LogTest(ServerTest):
    def test_lines_received_and_sent_are_logged_with_control_bytes_escaped(self):
        c = self.client()
        c.send(b"IAMAT esc\x01ape +0+0 1\nbad\x1b[31m line\n")
        c.read_line()
        c.read_line()
        self.h.wait_for_log("Ball", "? bad\\x1b[31m line")
        log = self.h.log("Ball")
        self.assertIn("< IAMAT esc\\x01ape +0+0 1", log)
        self.assertIn("> AT Ball ", log)
        self.assertNotIn("\x1b", log)
        self.assertNotIn("\x01", log)
        # Every line, batched or not, has the same stamp: UTC date, microseconds, level.
        stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (info|warning|error) +\S")
        for line in log.splitlines():
            self.assertRegex(line, stamp)


class ShutdownTest(HerdTestCase):
    def test_sigterm_finishes_owed_replies_and_exits_zero(self):
        h = self.herd()
        h.start()
        idle = h.client()
        c = h.client()
        self.addCleanup(idle.close)
        self.addCleanup(c.close)
        c.request("IAMAT s +0+0 1")
        c.send("WHATSAT s 10 20\n" * 200)
        h.stop("Ball")  # asserts exit status 0 and no sanitizer report
        out = c.read_to_eof()
        self.assertEqual(out.count(b"}\n\n"), 200)
        self.assertEqual(idle.read_to_eof(), b"")
        self.assertIn("stopping", h.log("Ball"))
        self.assertIn("stopped", h.log("Ball"))
