"""The herd over real links (PROTOCOL.md section 6): flooding, reconnect, catch-up,
convergence and authenticated handshakes, with the default five-server topology."""
import hashlib
import hmac
import random
import re
import signal
import socket
import threading
import time

from harness import NAMES, TOPOLOGY, Client, HerdTestCase, scaled, wait_until

SECRET = "correct horse battery staple"


def at_time(line):
    """(seconds, nanoseconds) of an AT line's client time, the way the server compares."""
    t = line.split()[-1].decode()
    sec, _, frac = t.partition(".")
    return int(sec), int((frac + "000000000")[:9])


def newest(lines):
    return max(lines, key=lambda l: (at_time(l), l))


class HerdLinksTest(HerdTestCase):
    def five(self, secret=SECRET, start=True):
        h = self.herd(names=NAMES, topology=TOPOLOGY, secret=secret)
        if start:
            h.start_all()
        return h

    def test_an_iamat_at_any_server_reaches_every_other_with_the_original_line(self):
        h = self.five()
        for origin in NAMES:
            c = h.client(origin)
            at = c.request(f"IAMAT from-{origin} +34.068930-118.445127 {time.time():.9f}")
            c.close()
            self.assertTrue(at.startswith(f"AT {origin} ".encode()))
            for other in NAMES:
                h.wait_record(other, f"from-{origin}", at)
        h.wait_for_log("Ball", "link Holiday up (dialled")
        h.wait_for_log("Ball", "link Welsh up (dialled")
        h.wait_for_log("Holiday", "link Ball up (accepted from")
        wait_until(lambda: re.search(r"link (Welsh|Holiday) < AT Alford ", h.log("Ball")), 10,
                   "Ball to log an AT received on a link")
        wait_until(lambda: re.search(r"link (Welsh|Holiday) > AT ", h.log("Ball")), 10,
                   "Ball to log an AT sent on a link")

    def test_killed_servers_miss_updates_then_reconnect_and_catch_up(self):
        h = self.five(secret=None)
        h.wait_for_log("Ball", "development mode")
        h.kill("Hamilton")
        h.kill("Ball")
        # Alford-Welsh still connected; Holiday's only neighbours are down.
        c = h.client("Alford")
        x = c.request("IAMAT x +1+1 1")
        c.close()
        h.wait_record("Welsh", "x", x)
        c = h.client("Holiday")
        y = c.request("IAMAT y +2+2 2")
        c.close()
        time.sleep(scaled(0.5))
        self.assertIsNone(h.record("Holiday", "x"))
        self.assertIsNone(h.record("Alford", "y"))
        h.start("Hamilton")
        h.start("Ball")
        for name in NAMES:
            h.wait_record(name, "x", x, timeout=20)
            h.wait_record(name, "y", y, timeout=20)
        h.wait_for_log("Hamilton", "catch-up sent")

    def test_a_catch_up_of_20000_records_arrives_whole_across_yielding_passes(self):
        # Far more records than a link hands over in one loop pass (512): the reader
        # yields with the rest of its input held and goes on in the next pass.
        h = self.herd(names=["Alford", "Welsh"], topology={"Alford": ["Welsh"], "Welsh": []})
        h.start("Welsh")
        n = 20000
        c = h.client("Welsh")
        for base in range(0, n, 1000):
            c.send("".join(f"IAMAT bulk{i} +1+1 {i}.5\n" for i in range(base, base + 1000)))
            for _ in range(1000):
                c.read_line()
        c.close()
        h.start("Alford")
        h.wait_for_log("Welsh", f"link Alford: catch-up sent {n} records", timeout=60)
        wait_until(lambda: h.log("Alford").count("link Welsh < AT Welsh ") == n, scaled(30),
                   "Alford to log every record of the catch-up")
        sample = [f"bulk{i}" for i in range(0, n, 97)] + [f"bulk{n - 1}"]
        got = h.records("Alford", sample)
        self.assertEqual([cid for cid, v in got.items() if v is None], [])
        self.assertTrue(got["bulk0"].endswith(b" bulk0 +1+1 0.5\n"), got["bulk0"])

    def test_racing_updates_for_one_client_converge_everywhere(self):
        h = self.five()
        ids = [f"race{i}" for i in range(20)]
        sent = {cid: [] for cid in ids}
        lock = threading.Lock()

        def writer(server, seed):
            rng = random.Random(seed)
            c = h.client(server)
            for cid in ids:
                for _ in range(3):
                    t = rng.choice(["100", "100.000000000", "101.5", "101.500000000000", str(rng.randint(90, 110))])
                    at = c.request(f"IAMAT {cid} +{rng.randint(0, 89)}-{rng.randint(0, 179)} {t}")
                    with lock:
                        sent[cid].append(at)
            c.close()

        threads = [threading.Thread(target=writer, args=(s, i)) for i, s in enumerate(NAMES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        want = {cid: newest(lines) for cid, lines in sent.items()}

        def converged():
            return all(h.records(name, ids) == want for name in NAMES)
        wait_until(converged, 20, "every server to hold the newest record of every client")

    def test_forged_and_wrongly_addressed_handshakes_are_refused(self):
        h = self.five(start=False)
        h.start("Ball")  # its neighbours stay down; the test plays them
        c = Client(h.ports["Ball"])
        c.send("HERD-HELLO Welsh Ball " + "ab" * 16 + "\n")
        challenge = c.read_line().split()
        self.assertEqual(challenge[:2], [b"HERD-CHALLENGE", b"Ball"])
        c.send("HERD-PROVE " + "00" * 32 + "\n")
        self.assertTrue(c.read_line().startswith(b"HERD-DENIED"))
        c.send("AT Welsh +0.000000000 forged +0+0 1\n")
        self.assertEqual(c.read_to_eof(), b"")
        for hello in ("HERD-HELLO Alford Ball " + "ab" * 16,  # not a neighbour of Ball
                      "HERD-HELLO Welsh Hamilton " + "ab" * 16,  # not addressed to Ball
                      "HERD-HELLO Welsh Ball short"):
            c = Client(h.ports["Ball"])
            c.send(hello + "\n")
            self.assertTrue(c.read_line().startswith(b"HERD-DENIED"), hello)
            self.assertEqual(c.read_to_eof(), b"")
        self.assertIsNone(h.record("Ball", "forged"))
        h.wait_for_log("Ball", "proof of the link secret does not match")
        h.wait_for_log("Ball", "Alford is not a neighbour of Ball")

    def test_a_replayed_handshake_is_refused(self):
        h = self.five(start=False)
        h.start("Ball")
        nonce_d = "cd" * 16
        hello = f"HERD-HELLO Welsh Ball {nonce_d}\n"
        c = Client(h.ports["Ball"])
        c.send(hello)
        _, name, nonce_a, proof_a = c.read_line().decode().split()
        expected_a = hmac.new(SECRET.encode(), f"acceptor|Welsh|Ball|{nonce_d}|{nonce_a}".encode(),
                              hashlib.sha256).hexdigest()
        self.assertEqual(proof_a, expected_a, "Ball proves it knows the secret too")
        prove = "HERD-PROVE " + hmac.new(SECRET.encode(), f"dialler|Welsh|Ball|{nonce_a}|{nonce_d}".encode(),
                                         hashlib.sha256).hexdigest() + "\n"
        c.send(prove)
        self.assertEqual(c.read_line(), b"HERD-OK Ball\n")
        at = b"AT Welsh +0.100000000 genuine +10+10 5\n"
        c.send(at)
        h.wait_record("Ball", "genuine", at)
        c.close()
        # Replay the captured dialler lines on a new connection.
        r = Client(h.ports["Ball"])
        r.send(hello)
        self.assertTrue(r.read_line().startswith(b"HERD-CHALLENGE Ball "))
        r.send(prove)
        self.assertTrue(r.read_line().startswith(b"HERD-DENIED"))
        r.send("AT Welsh +0.100000000 replayed +10+10 6\n")
        self.assertEqual(r.read_to_eof(), b"")
        self.assertIsNone(h.record("Ball", "replayed"))

    def test_an_at_line_or_a_late_hello_on_a_client_connection_is_invalid(self):
        h = self.five(start=False)
        h.start("Ball")
        c = h.client("Ball")
        at = "AT Welsh +0.100000000 sneaky +10+10 5"
        self.assertEqual(c.request(at), f"? {at}\n".encode())
        hello = "HERD-HELLO Welsh Ball " + "ab" * 16
        self.assertEqual(c.request(hello), f"? {hello}\n".encode())
        c.close()
        self.assertIsNone(h.record("Ball", "sneaky"))

    def test_servers_with_different_secrets_never_link(self):
        h = self.herd(names=["Ball", "Welsh"], topology=TOPOLOGY, secret=SECRET)
        h.start("Ball")
        h.start("Welsh", env={"HERD_SECRET": "another secret"})
        h.wait_for_log("Ball", "the neighbour's proof of the link secret does not match")
        c = h.client("Ball")
        c.request("IAMAT lonely +0+0 1")
        c.close()
        time.sleep(scaled(0.5))
        self.assertIsNone(h.record("Welsh", "lonely"))
        self.assertNotIn("link Welsh up", h.log("Ball"))

    def test_a_restarted_neighbour_replaces_its_link_and_flooding_resumes(self):
        h = self.five()
        wait_until(lambda: h.link_up_count("Ball", "Holiday") == 1, 15, "Ball to link with Holiday")
        wait_until(lambda: h.link_up_count("Holiday", "Ball") == 1, 15, "Holiday to accept Ball")
        h.kill("Holiday")  # Holiday accepts from Ball; Ball notices and re-dials
        h.start("Holiday")  # (its log is appended to: the count goes on from 1)
        wait_until(lambda: h.link_up_count("Ball", "Holiday") == 2, 15, "Ball to re-link with Holiday")
        wait_until(lambda: h.link_up_count("Holiday", "Ball") == 2, 15, "Holiday to accept Ball")
        h.kill("Ball")  # Ball dials Holiday and Welsh: they see a fresh handshake
        h.start("Ball")
        wait_until(lambda: h.link_up_count("Holiday", "Ball") == 3, 15, "Holiday to accept Ball again")
        c = h.client("Holiday")
        at = c.request("IAMAT after-restart +5+5 5")
        c.close()
        for name in NAMES:
            h.wait_record(name, "after-restart", at)


class ChaosTest(HerdTestCase):
    def test_chaos_kills_and_restarts_end_with_identical_tables_and_nothing_acknowledged_lost(self):
        """Alford and Holiday (not neighbours) take a bounded stream of IAMATs and are never
        stopped, so everything they acknowledge must survive; Ball, Hamilton and Welsh, the
        servers on every path between them, are killed (SIGKILL or SIGTERM) and restarted at
        random. The victims also take IAMATs, which may legitimately be lost (durability
        rule) but must still end identical everywhere."""
        self.chaos(tls=False)

    def test_chaos_over_tls_ends_the_same_way(self):
        """The same chaos with every link over mutual TLS (PROTOCOL.md section 11)."""
        self.chaos(tls=True)

    def chaos(self, tls):
        h = self.herd(names=NAMES, topology=TOPOLOGY, secret=SECRET, tls=tls)
        h.start_all()
        rng = random.Random(20261122)
        anchors, victims = ["Alford", "Holiday"], ["Ball", "Hamilton", "Welsh"]
        acked = {}
        ids = [f"chaos{i}" for i in range(60)]
        stop = threading.Event()
        lock = threading.Lock()

        def stream(server, seed):
            r = random.Random(seed)
            n = 0
            while not stop.is_set() and n < 400:
                cid = r.choice(ids)
                try:
                    c = h.client(server)
                    at = c.request(f"IAMAT {cid} +{r.randint(0, 89)}+{r.randint(0, 179)} {time.time():.9f}")
                    c.close()
                except (OSError, EOFError):
                    continue  # a victim was down
                if server in anchors:
                    with lock:
                        acked.setdefault(cid, []).append(at)
                n += 1
                time.sleep(0.005)

        writers = [threading.Thread(target=stream, args=(s, i)) for i, s in enumerate(NAMES)]
        for w in writers:
            w.start()
        down = set()
        for _round in range(12):
            victim = rng.choice(victims)
            if victim in down:
                h.start(victim)
                down.discard(victim)
            else:
                if rng.random() < 0.5:
                    h.kill(victim)
                else:
                    h.stop(victim)
                down.add(victim)
            time.sleep(rng.uniform(0.05, 0.4))
        for v in list(down):
            h.start(v)
        stop.set()
        for w in writers:
            w.join()

        def tables():
            return [h.records(name, ids) for name in NAMES]

        def identical():
            t = tables()
            return t if all(x == t[0] for x in t) else None
        final = wait_until(identical, 30, "identical tables on every server")[0]
        for cid, lines in acked.items():
            self.assertIsNotNone(final[cid], cid)
            self.assertGreaterEqual((at_time(final[cid]), final[cid]), (at_time(newest(lines)), newest(lines)),
                                    f"{cid}: an acknowledged update was lost")
        self.assertGreater(sum(len(v) for v in acked.values()), 100)
