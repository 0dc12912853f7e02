"""Hostile and unlucky peers (PROTOCOL.md sections 2, 6, 9 and 10): each test is named after
what broke before the hardening and asserts that the server keeps answering a well-behaved
client, keeps its memory and descriptors bounded (read from /proc) and stops within 5 s."""
import datetime
import hashlib
import hmac
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from harness import HERD_BIN, TOPOLOGY, Client, HerdTestCase, scaled, wait_until
from test_places import KEY, LEGACY_PATH, NEW_PATH, Stub, body_of


def log_time(line):
    """The wall-clock time (seconds since the epoch) at the start of a log line."""
    return datetime.datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()


def last_line_with(log, text):
    return next(line for line in reversed(log.splitlines()) if text in line)


def next_dial_far_enough(log, seconds):
    """When the dialler's next attempt is due (epoch seconds), if at least `seconds` away."""
    lines = [line for line in log.splitlines() if "dialling again in " in line]
    if not lines:
        return None
    due = log_time(lines[-1]) + int(lines[-1].rsplit("dialling again in ", 1)[1].split()[0]) / 1000
    return due if due - time.time() >= seconds else None


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def rss_mib(pid):
    return proc_status(pid, "VmRSS") / 1024


# The sanitizers' allocators keep freed memory in quarantine and add shadow memory, so
# resident-set bounds are asserted in the normal build only (HERD_TEST_SANITIZER unset);
# the sanitizer builds run the same attacks for memory errors and races.
SANITIZED = bool(os.environ.get("HERD_TEST_SANITIZER"))


def assert_rss_growth(test, pid, rss0, bound_mib, what):
    growth = rss_mib(pid) - rss0
    if not SANITIZED:
        test.assertLess(growth, bound_mib, f"RSS grew by {growth:.0f} MiB {what}")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(h, name="Ball"):
    port = h.admin_ports[name]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=scaled(5)) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def raise_own_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(want, hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return min(want, hard)


class Hostile(HerdTestCase):
    def well_behaved(self, h, name="Ball", tag="probe"):
        """A fresh client gets its IAMAT answered within a bound (5 s, scaled)."""
        c = Client(h.ports[name], timeout=5)
        try:
            reply = c.request(f"IAMAT {tag} +1+1 1")
            self.assertTrue(reply.startswith(f"AT {name} ".encode()), reply)
        finally:
            c.close()

    def flood_without_reading(self, port, payload, seconds):
        """Sends payload repeatedly for a while without ever reading; returns the socket."""
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return s, self.send_without_reading(s, payload, seconds)

    @staticmethod
    def send_without_reading(s, payload, seconds):
        """Sends payload repeatedly on s for a while; returns the bytes the server took."""
        s.setblocking(False)
        deadline = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < deadline:
            try:
                sent += s.send(payload)
            except BlockingIOError:
                time.sleep(0.01)
        return sent

    def slow_legacy_herd(self, latency_ms, timeout_ms):
        """One server, one worker, the google-legacy provider on a stub that answers late."""
        stub = Stub("--key", KEY, "--latency-ms", str(latency_ms))
        self.addCleanup(stub.stop)
        h = self.herd(places_extra=f'provider = "google-legacy"\n'
                                   f'endpoint = "http://127.0.0.1:{stub.port}{LEGACY_PATH}"\n'
                                   f"timeout_ms = {timeout_ms}",
                      env_extra={"GOOGLE_PLACES_API_KEY": KEY}, workers=1)
        h.start()
        return h, stub

    def stop_within_5s(self, h, name="Ball"):
        """SIGTERM; the server must exit 0 within 5 s (scaled for sanitizer builds)."""
        start = time.monotonic()
        h.stop(name)
        took = time.monotonic() - start
        self.assertLess(took, scaled(5), f"{name} took {took:.2f} s to stop")
        return took


class LinkLimitTest(Hostile):
    def test_one_long_iamat_does_not_partition_the_herd(self):
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, herd_extra="max_line_bytes = 65536")
        h.start_all()
        h.wait_for_log("Welsh", "link Ball up")
        c = h.client("Ball")
        records = []
        # The longest location and client time a 64 KiB IAMAT can carry, and many normal ones.
        loc = "+1." + "5" * 32000 + "-2." + "5" * 32000
        line = f"IAMAT long-loc {loc} 1"
        self.assertLessEqual(len(line), 65536)
        records.append(("long-loc", c.request(line)))
        records.append(("long-time", c.request("IAMAT long-time +1+1 1." + "7" * 65000)))
        for i in range(500):
            records.append((f"n{i}", c.request(f"IAMAT n{i} +2+2 {i}")))
        c.close()
        for cid, at in records[:2] + records[-1:]:
            h.wait_record("Welsh", cid, at)
        # A restarted neighbour gets every record, the long ones included, by catch-up.
        h.kill("Welsh")
        h.start("Welsh")
        wait_until(lambda: h.records("Welsh", [r[0] for r in records]) == dict(records), 20,
                   "Welsh to catch up with every record")
        self.assertNotIn("link Welsh down", h.log("Ball").split("link Welsh up")[-1])
        self.assertNotIn("longer than", h.log("Ball") + h.log("Welsh"))


class ConnectionLimitTest(Hostile):
    def test_max_connections_closes_the_excess_right_after_accept(self):
        h = self.herd(herd_extra="max_connections = 20", admin=True)
        h.start()
        held = [Client(h.ports["Ball"]) for _ in range(19)]
        for c in held:
            c.request("IAMAT held +0+0 1")  # all 19 accepted and served
        extra = [Client(h.ports["Ball"]) for _ in range(10)]
        # One slot was left: one of the extra connections is served, the others closed.
        served = 0
        for c in extra:
            try:
                c.send("IAMAT extra +0+0 1\n")
                if c.read_line().startswith(b"AT Ball "):
                    served += 1
            except (EOFError, ConnectionResetError, BrokenPipeError):
                pass
        self.assertEqual(served, 1)
        self.assertGreaterEqual(metrics(h)["herd_connections_refused_total"], 9)
        for c in held + extra:
            c.close()
        wait_until(lambda: metrics(h)["herd_connections_open"] == 0, 10, "connections to close")
        self.well_behaved(h)

    def test_descriptor_exhaustion_pauses_accepting_without_spinning(self):
        limit = 64

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        h = self.herd(workers=2)
        # The server raises its soft limit to the hard one: the test lowers both.
        stderr = open(os.path.join(h.dir, "Ball.stderr"), "ab")
        h.procs["Ball"] = subprocess.Popen([HERD_BIN, "--config", h.config,
                                            "--name", "Ball"], stdout=subprocess.DEVNULL, stderr=stderr,
                                           env=h.env, preexec_fn=low_limit)
        stderr.close()
        h.wait_listening("Ball")
        pid = h.procs["Ball"].pid
        first = Client(h.ports["Ball"])
        first.request("IAMAT first +0+0 1")
        clients = []
        for _ in range(limit + 40):  # past the server's descriptors: the rest wait in the backlog
            clients.append(socket.create_connection(("127.0.0.1", h.ports["Ball"]), timeout=scaled(5)))
        h.wait_for_log("Ball", "accepting paused")
        time.sleep(0.5)
        cpu0, warned0 = cpu_seconds(pid), h.log("Ball").count("accept failed")
        time.sleep(3)
        cpu = cpu_seconds(pid) - cpu0
        warned = h.log("Ball").count("accept failed") - warned0
        self.assertLess(cpu, 0.5 * scaled(1), f"the server used {cpu:.2f} s of CPU in 3 s: spinning")
        self.assertLessEqual(warned, 2 * 4, "accept errors are logged at most once a second per worker")
        # Established connections keep being served.
        self.assertTrue(first.request("IAMAT first +0+0 2").startswith(b"AT Ball "))
        # Descriptors free up: accepting resumes and the waiting connections are served.
        for s in clients[:60]:
            s.close()
        late = clients[-1]
        late.sendall(b"IAMAT late +0+0 1\n")
        late.settimeout(scaled(10))
        self.assertTrue(late.recv(4096).startswith(b"AT Ball "))
        for s in clients[60:]:
            s.close()
        first.close()
        self.stop_within_5s(h)


class ValidationTest(Hostile):
    def test_radius_check_counts_every_integer_digit(self):
        h = self.herd()
        h.start()
        c = h.client()
        c.request("IAMAT r +34.068930-118.445127 1")
        for bad in ("000000000000000000100.5", "1000000", "1" + "0" * 40, "0" * 5000 + "51"):
            line = f"WHATSAT r {bad} 5"
            self.assertEqual(c.request(line), f"? {line}\n".encode())
        c.send("WHATSAT r 0000000000000000005 5\n")
        self.assertTrue(c.read_whatsat().startswith(b"AT Ball "))
        c.send("WHATSAT r " + "0" * 5000 + "7.5 1\n")
        self.assertTrue(c.read_whatsat().startswith(b"AT Ball "))
        c.close()

    def inject_long_record(self, h):
        """Plays Alford, a neighbour that dials Ball, and sends one AT line whose location is
        over 64 KiB (a link carries up to max_line_bytes + 160 bytes). Returns the line."""
        link = socket.create_connection(("127.0.0.1", h.ports["Ball"]), timeout=scaled(10))
        self.addCleanup(link.close)
        link.sendall(b"HERD-HELLO Alford Ball " + b"ab" * 16 + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            answer += link.recv(1)
        self.assertTrue(answer.startswith(b"HERD-OK Ball"), answer)
        at = b"AT Alford +0.000000000 big +1." + b"1" * 65560 + b"-2 1"
        link.sendall(at + b"\n")
        wait_until(lambda: h.record("Ball", "big") is not None, 10, "Ball to store the long record")
        return at

    def long_record_herd(self, places_extra="", env_extra=None):
        h = self.herd(names=["Ball", "Alford"], topology={"Ball": ["Alford"]},
                      herd_extra="max_line_bytes = 65536", places_extra=places_extra,
                      env_extra=env_extra, workers=1)
        h.start("Ball")
        return h

    def test_16_bit_record_fields_a_location_over_64_kib_is_stored_whole(self):
        h = self.long_record_herd()
        at = self.inject_long_record(h)
        c = h.client()
        c.send("WHATSAT big 1 1\n")
        self.assertTrue(c.read_whatsat().startswith(at + b"\n"))
        c.close()

    def test_16_bit_record_fields_a_google_lookup_of_a_long_location_never_swallows_later_ones(self):
        stub = Stub("--key", KEY)
        self.addCleanup(stub.stop)
        h = self.long_record_herd(places_extra=f'provider = "google-legacy"\n'
                                               f'endpoint = "http://127.0.0.1:{stub.port}{LEGACY_PATH}"\n'
                                               f"timeout_ms = {int(10000 * scaled(1))}",
                                  env_extra={"GOOGLE_PLACES_API_KEY": KEY})
        at = self.inject_long_record(h)
        c = h.client()
        for _ in range(3):  # identical lookups: each must be answered, none left hanging
            c.send("WHATSAT big 10 1\n")
            first, body = body_of(c.read_whatsat())
            self.assertEqual(first, at)
            self.assertIn("status", json.loads(body))
        c.close()

    def test_stack_memory_in_a_client_reply_from_huge_new_api_numbers(self):
        body = os.path.join(tempfile.mkdtemp(prefix="herd-body-"), "body.json")
        with open(body, "w") as f:
            f.write('{"places":[{"id":"p","displayName":{"text":"n"},"location":{"latitude":1e300,'
                    '"longitude":-1e300},"rating":1e300,"types":["x"]}]}')
        stub = Stub("--key", KEY, "--body-file", body)
        self.addCleanup(stub.stop)
        h = self.herd(places_extra=f'provider = "google"\nendpoint = "http://127.0.0.1:{stub.port}{NEW_PATH}"',
                      env_extra={"GOOGLE_PLACES_API_KEY": KEY})
        h.start()
        c = h.client()
        c.request("IAMAT k +34.068930-118.445127 1")
        c.send("WHATSAT k 10 5\n")
        doc = json.loads(body_of(c.read_whatsat())[1])
        place = doc["results"][0]
        self.assertEqual(place["geometry"]["location"], {"lat": 1e300, "lng": -1e300})
        self.assertEqual(place["rating"], 1e300)
        c.close()


class BackPressureTest(Hostile):
    def test_back_pressure_holds_line_by_line_for_whatsat_that_are_never_read(self):
        h = self.herd(workers=1)
        h.start()
        c = h.client()
        c.request("IAMAT x +48.8566+2.3522 1")  # Paris: 20 places within 50 km
        c.close()
        pid = h.procs["Ball"].pid
        rss0 = rss_mib(pid)
        socks = []
        for _ in range(10):
            s, sent = self.flood_without_reading(h.ports["Ball"], b"WHATSAT x 50 20\n" * 4096, 0.3)
            socks.append(s)
        self.well_behaved(h)
        # Each connection may owe 4 MiB plus one turn of replies, held in 16 KiB blocks (no
        # doubling buffers), and hold one read of input; the log writer may hold 8 MiB
        # queued and 8 MiB being written (every reply is logged); the rest is allocator slack.
        assert_rss_growth(self, pid, rss0, 10 * 5 + 16 + 24, "for 10 clients")
        for s in socks:
            s.close()
        self.stop_within_5s(h)

    def test_replies_waiting_behind_a_slow_lookup_count_as_owed(self):
        latency = int(3000 * scaled(1))
        h, _ = self.slow_legacy_herd(latency, latency * 4)
        pid = h.procs["Ball"].pid
        c = h.client()
        c.request("IAMAT slow +34.068930-118.445127 1")
        rss0 = rss_mib(pid)
        c.send("WHATSAT slow 10 5\n")  # its reply waits for the stub; everything after it too
        sent = self.send_without_reading(c.sock, b"IAMAT behind +1+1 1\n" * 4096, latency / 2000)
        assert_rss_growth(self, pid, rss0, 40, f"behind one lookup ({sent} bytes sent)")
        self.assertLess(sent, 64 * 1024 * 1024, "the server kept reading behind the slow lookup")
        self.well_behaved(h)
        c.close()

    def test_lookups_in_flight_are_capped_per_worker(self):
        latency = int(500 * scaled(1))
        h, stub = self.slow_legacy_herd(latency, latency * 20)
        conns = [Client(h.ports["Ball"], timeout=60) for _ in range(5)]
        conns[0].request("IAMAT cap +34.068930-118.445127 1")
        n = 300
        for k, c in enumerate(conns):  # 1,500 distinct lookups in all
            c.send("".join(f"WHATSAT cap {1 + (k * n + i) / 1000:.3f} 1\n" for i in range(n)))
        self.well_behaved(h)
        for c in conns:
            for _ in range(n):
                self.assertEqual(json.loads(body_of(c.read_whatsat())[1])["status"], "OK")
            c.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{stub.port}/stats", timeout=5) as r:
            stats = json.loads(r.read())
        self.assertEqual(stats["requests"], 5 * n)
        self.assertLessEqual(stats["max_pending"], 64)
        self.assertLessEqual(stats["max_connections"], 64 + 1)  # + this /stats request's own


class StopTest(Hostile):
    def test_stopping_within_5_s_with_stuck_admin_client_and_link_connections(self):
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, admin=True, workers=2)
        h.start("Ball")
        # Welsh is down: Ball keeps dialling it. A fake Welsh that never answers would be a
        # stuck link; an admin connection that never finishes its request; a client that
        # never reads what it is owed.
        admin = socket.create_connection(("127.0.0.1", h.admin_ports["Ball"]))
        admin.sendall(b"GET /metr")
        stuck, _ = self.flood_without_reading(h.ports["Ball"], b"WHATSAT nobody 1 1\n" * 1000, 0.3)
        hello = Client(h.ports["Ball"])
        hello.send("HERD-HELLO Welsh Ball " + "ab" * 16 + "\n")  # a handshake left hanging
        time.sleep(0.3)
        signal_at = time.monotonic()
        p = h.procs["Ball"]
        p.send_signal(signal.SIGTERM)
        # Every listener closes at once: a new connection is refused or closed unserved.
        time.sleep(0.2)
        try:
            late = socket.create_connection(("127.0.0.1", h.ports["Ball"]), timeout=1)
            late.sendall(b"IAMAT late +0+0 1\n")
            late.settimeout(scaled(6))
            self.assertEqual(late.recv(100), b"", "a connection made after SIGTERM was served")
            late.close()
        except (ConnectionRefusedError, ConnectionResetError):
            pass
        rc = p.wait(timeout=scaled(10))
        took = time.monotonic() - signal_at
        h.procs.pop("Ball")
        self.assertEqual(rc, 0, h.stderr("Ball"))
        self.assertLess(took, scaled(5), f"Ball took {took:.2f} s to stop")
        after = h.log("Ball").split("signal SIGTERM received")[1]
        self.assertNotIn("dialling again", after)
        for s in (admin, stuck):
            s.close()
        hello.close()


class HandshakeTest(Hostile):
    def test_a_refused_handshake_reads_nothing_more(self):
        secret = "s3cret"
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, secret=secret)
        h.start("Ball")
        c = Client(h.ports["Ball"])
        c.send("HERD-HELLO Welsh Ball " + "ab" * 16 + "\n")
        challenge = c.read_line().split()
        self.assertEqual(challenge[0], b"HERD-CHALLENGE")
        # A wrong proof, then 256 KiB of newlines, then the right proof.
        nonce_a = challenge[2].decode()
        right = hmac.new(secret.encode(), f"dialler|Welsh|Ball|{nonce_a}|{'ab' * 16}".encode(),
                         hashlib.sha256).hexdigest()
        try:
            c.send("HERD-PROVE " + "00" * 32 + "\n" + "\n" * 262144 + f"HERD-PROVE {right}\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = c.read_to_eof()
        self.assertEqual(out.count(b"HERD-DENIED"), 1, out[:200])
        c.close()
        time.sleep(0.5)
        log = h.log("Ball")
        self.assertEqual(log.count("refused: proof of the link secret does not match"), 1)
        self.assertNotIn("link Welsh up", log)
        self.assertLess(len(log), 64 * 1024)

    def test_handshakes_in_progress_are_capped(self):
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, secret="x", admin=True)
        h.start("Ball")
        pid = h.procs["Ball"].pid
        socks = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", h.ports["Ball"]))
            s.sendall(b"HERD-HELLO Welsh Ball " + b"ab" * 16 + b"\n")
            socks.append(s)
        h.wait_for_log("Ball", "handshakes in progress; closing a new one")
        # Once every hello was handed over: 64 handshakes and the server's own descriptors.
        wait_until(lambda: fd_count(pid) < 64 + 40, 10, f"descriptors to settle (now {fd_count(pid)})")
        self.well_behaved(h)
        for s in socks:
            s.close()


class RelinkTest(Hostile):
    def test_a_restarted_server_is_linked_at_once_whichever_side_dials(self):
        h = self.herd(names=["Ball", "Holiday"], topology=TOPOLOGY, workers=1)
        h.start_all()
        h.wait_for_log("Ball", "link Holiday up")
        # Ball dials Holiday: its backoff grows while Holiday is down. Holiday is started
        # when Ball's next dial is at least 2 s away, so a link that comes up before that
        # dial was due came from the wake-up. If Ball's own timer still won the race (a
        # slow start), the attempt proves nothing and is repeated.
        for _ in range(3):
            h.kill("Holiday")
            wakes = h.log("Ball").count("wake-up from")
            due = wait_until(lambda: next_dial_far_enough(h.log("Ball"), 2.0), 20,
                             "Ball's backoff to pass 2 s")
            ups = h.link_up_count("Ball", "Holiday")
            started = time.monotonic()
            h.start("Holiday", wait=False)
            wait_until(lambda: h.link_up_count("Ball", "Holiday") > ups, 10, "Ball to re-link with Holiday")
            took = time.monotonic() - started
            up_at = log_time(last_line_with(h.log("Ball"), "link Holiday up ("))
            if up_at >= due:
                continue
            # Without the wake-up Ball would wait out a backoff of 1.6 to 4 s.
            self.assertLess(took, 1.2 * scaled(1), f"re-linked after {took:.2f} s")
            self.assertGreater(h.log("Ball").count("wake-up from"), wakes)
            return
        self.fail("Ball's own backoff timer re-linked first in every attempt")

    def test_the_flood_leaves_before_the_reply(self):
        """The test plays Welsh: Ball dials it, and every record Ball acknowledges must already
        be in the link's socket when the AT reply arrives (on loopback a write is queued to the
        receiving socket before the write call returns)."""
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, workers=2)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", h.ports["Welsh"]))
        listener.listen(4)
        h.start("Ball")
        listener.settimeout(scaled(10))
        link, _ = listener.accept()
        listener.close()
        link.settimeout(scaled(10))
        hello = b""
        while not hello.endswith(b"\n"):
            hello += link.recv(1)
        self.assertTrue(hello.startswith(b"HERD-HELLO Ball Welsh "), hello)
        link.sendall(b"HERD-OK Welsh\n")
        h.wait_for_log("Ball", "link Welsh up")
        link.setblocking(False)
        received = b""
        for i in range(300):
            tell = Client(h.ports["Ball"])  # lands on either worker
            at = tell.request(f"IAMAT fresh{i} +1+1 {i}")
            tell.close()
            try:
                while True:
                    chunk = link.recv(65536)
                    if not chunk:
                        raise AssertionError("Ball closed the link")
                    received += chunk
            except BlockingIOError:
                pass
            self.assertIn(at, received, f"fresh{i} was acknowledged before it left for the link")
        link.close()


class LogTest(Hostile):
    def traffic(self, h, n=2000):
        c = h.client()
        c.send("".join(f"IAMAT logfill{i} +1+1 1\n" for i in range(n)))
        for _ in range(n):
            c.read_line()
        c.close()

    def test_the_log_rotates_and_keeps_log_keep_files(self):
        h = self.herd(herd_extra="log_max_bytes = 65536\nlog_keep = 2", workers=1)
        h.start()
        for _ in range(5):
            self.traffic(h)
        self.well_behaved(h)
        self.stop_within_5s(h)  # the log is complete and closed: nothing rotates meanwhile
        logs = os.path.join(h.dir, "logs")
        self.assertEqual(sorted(os.listdir(logs)), ["Ball.log", "Ball.log.1", "Ball.log.2"])
        for n in os.listdir(logs):
            self.assertLessEqual(os.path.getsize(os.path.join(logs, n)), 65536, n)
        self.assertIn("stopped in", h.log("Ball"))

    def test_sighup_reopens_and_a_removed_log_is_recreated(self):
        h = self.herd(workers=1)
        h.start()
        path = h.log_path("Ball")
        h.wait_for_log("Ball", "listening")
        os.rename(path, path + ".old")
        h.procs["Ball"].send_signal(signal.SIGHUP)
        self.well_behaved(h, tag="after-hup")
        wait_until(lambda: os.path.exists(path) and "after-hup" in h.log("Ball"), 10, "a new Ball.log")
        os.remove(path)
        self.well_behaved(h, tag="after-rm")
        wait_until(lambda: os.path.exists(path) and "after-rm" in h.log("Ball"), 10, "Ball.log recreated")

    def test_a_log_that_cannot_be_written_never_stops_the_server(self):
        h = self.herd(admin=True, workers=1)
        os.makedirs(os.path.join(h.dir, "logs"))
        os.symlink("/dev/full", h.log_path("Ball"))  # every write fails: ENOSPC
        h.start()
        for i in range(3):
            self.well_behaved(h, tag=f"full{i}")
        wait_until(lambda: metrics(h)["herd_log_dropped_lines_total"] > 0, 10, "dropped lines to be counted")
        self.traffic(h, 500)
        self.assertEqual(h.stderr("Ball").count("cannot write the log"), 1, h.stderr("Ball"))
        self.stop_within_5s(h)


class ManyConnectionsTest(Hostile):
    def test_ten_thousand_idle_and_slowloris_connections(self):
        n = min(10000, raise_own_fd_limit(20000) - 500)
        h = self.herd(herd_extra=f"max_connections = {n + 100}\nidle_timeout_s = 3", workers=2, admin=True)
        h.start()
        pid = h.procs["Ball"].pid
        rss0, fds0 = rss_mib(pid), fd_count(pid)
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", h.ports["Ball"]), timeout=scaled(10))
            if i % 2:
                s.sendall(b"IAMAT slow")  # a slowloris: a line that never ends
            socks.append(s)
        # (idle ones may already be closing: count those too)
        wait_until(lambda: (lambda m: m["herd_connections_open"] + m["herd_connections_idle_closed_total"])(
            metrics(h)) >= n, 30, f"{n} connections accepted")
        self.well_behaved(h, tag="among-many")
        assert_rss_growth(self, pid, rss0, 200, f"for {n} idle connections")
        self.assertLess(fd_count(pid) - fds0, n + 50)
        for s in socks[1:200:2]:
            s.sendall(b" dribble")  # bytes without a line are no sign of life
        # idle_timeout_s closes every one of them (checked once a second).
        wait_until(lambda: metrics(h)["herd_connections_open"] == 0, 30, "idle connections to be closed")
        self.assertGreaterEqual(metrics(h)["herd_connections_idle_closed_total"], n)
        wait_until(lambda: fd_count(pid) < fds0 + 20, 10, "descriptors to be released")
        for s in socks:
            s.close()
        self.well_behaved(h)
        self.stop_within_5s(h)
