"""The NATS JetStream backbone (PROTOCOL.md section 12), against real nats-server
processes: a local 3-node JetStream cluster on 127.0.0.1 (tools/nats-cluster), started and
stopped by each test."""
import os
import random
import threading
import time
import urllib.error
import urllib.request

from harness import NAMES, Client, HerdTestCase, scaled, wait_until

SANITIZED = bool(os.environ.get("HERD_TEST_SANITIZER"))


def healthz(h, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{h.admin_ports[name]}/healthz", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def metric(h, name, family):
    with urllib.request.urlopen(f"http://127.0.0.1:{h.admin_ports[name]}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(family + " "):
                return float(line.split()[1])
    return None


def iamat(h, name, lines):
    """Sends IAMAT lines pipelined on one connection; returns the AT replies."""
    c = h.client(name)
    try:
        c.send("".join(l + "\n" for l in lines))
        return [c.read_line() for _ in lines]
    finally:
        c.close()


class NatsBackboneTest(HerdTestCase):
    def nats_herd(self, cluster, names=NAMES, **kw):
        return self.herd(names=names, topology=None, nats=cluster, admin=True, **kw)

    def replayed_herd(self, names=NAMES):
        """A fresh cluster and a herd on it, every server started and its replay done."""
        cluster = self.nats_cluster()
        h = self.nats_herd(cluster, names=names)
        h.start_all()
        for n in h.names:
            wait_until(lambda: healthz(h, n) == 200, 20, f"{n} to replay the bucket")
        return cluster, h

    def test_an_iamat_at_any_server_is_seen_at_every_server(self):
        _, h = self.replayed_herd()
        for origin in NAMES:
            at = iamat(h, origin, [f"IAMAT nats-{origin}.x +34.068930-118.445127 {time.time():.9f}"])[0]
            for other in NAMES:
                h.wait_record(other, f"nats-{origin}.x", at)
        self.assertIn("backbone: watching bucket herd", h.log("Ball"))
        self.assertNotIn("links: neighbours", h.log("Ball"))  # neighbours are ignored
        self.assertGreaterEqual(metric(h, "Ball", "herd_backbone_publishes_acked_total"), 1)
        self.assertEqual(metric(h, "Ball", "herd_backbone_connected"), 1)

    def test_racing_writers_converge_to_the_rules_winner_everywhere_and_in_the_bucket(self):
        cluster, h = self.replayed_herd()
        ids = [f"race{i}" for i in range(50)]
        base = int(time.time())
        barrier = threading.Barrier(len(NAMES))
        sent = {}
        lock = threading.Lock()

        def writer(k, name):
            # Equal times on every server for even ids, 1 ns apart for odd ones.
            lines = [f"IAMAT {cid} +{k}+{k} {base}.{(0 if i % 2 == 0 else k):09d}" for i, cid in enumerate(ids)]
            barrier.wait()
            replies = iamat(h, name, lines)
            with lock:
                for cid, r in zip(ids, replies):
                    sent.setdefault(cid, []).append(r)

        threads = [threading.Thread(target=writer, args=(k, n)) for k, n in enumerate(NAMES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def rule_key(line):
            t = line.split()[-1].decode()
            sec, _, frac = t.partition(".")
            return (int(sec), int((frac + "000000000")[:9])), line

        winners = {cid: max(lines, key=rule_key) for cid, lines in sent.items()}

        def converged():
            return all(h.records(n, ids) == winners for n in NAMES)
        wait_until(converged, 20, "every server to hold the rule's winner")
        # The bucket too: a server that starts now, with no IAMAT of its own, replays the
        # bucket's last values.
        late = self.nats_herd(cluster, names=["Late"])
        late.start("Late")
        wait_until(lambda: healthz(late, "Late") == 200, 20, "Late to replay the bucket")
        wait_until(lambda: late.records("Late", ids) == winners, 10, "the bucket to hold every winner")

    def test_a_server_started_after_200000_records_holds_them_all_before_healthz_turns_200(self):
        cluster = self.nats_cluster()
        h = self.nats_herd(cluster, names=["Alford", "Ball"], workers=2)
        h.start("Alford")
        wait_until(lambda: healthz(h, "Alford") == 200, 20, "Alford to replay the bucket")
        # 200,000 in the normal build; the sanitizer builds, several times slower, load fewer.
        n = 200000 if SANITIZED is False else 50000
        c = h.client("Alford")
        chunk = 5000
        for start in range(0, n, chunk):
            c.send("".join(f"IAMAT bulk{i} +1+1 {i}.5\n" for i in range(start, start + chunk)))
            for _ in range(chunk):
                c.read_line()
        c.close()
        wait_until(lambda: metric(h, "Alford", "herd_backbone_publishes_acked_total") >= n, 120,
                   "the bucket to acknowledge every record")
        h.start("Ball")
        seen_503 = False
        probe = Client(h.ports["Ball"])
        deadline = time.monotonic() + scaled(60)
        while healthz(h, "Ball") != 200:
            seen_503 = True
            # The loops answer meanwhile.
            self.assertTrue(probe.request("IAMAT probe +2+2 1").startswith(b"AT Ball "))
            self.assertLess(time.monotonic(), deadline, "Ball never finished its replay")
            time.sleep(0.05)
        probe.close()
        self.assertTrue(seen_503, "healthz was 200 before the replay")
        # Every record is there once healthz says so: n bulk records and the probe.
        self.assertGreaterEqual(metric(h, "Ball", "herd_records"), n + 1)
        sample = [f"bulk{i}" for i in random.Random(7).sample(range(n), 2000)] + [f"bulk{n - 1}", "bulk0"]
        got = h.records("Ball", sample)
        missing = [cid for cid, v in got.items() if v is None]
        self.assertEqual(missing, [], f"{len(missing)} records missing after the replay")

    def test_all_nats_nodes_down_for_10_s_then_back_every_record_reaches_the_bucket_and_every_server(self):
        cluster, h = self.replayed_herd(["Alford", "Ball", "Welsh"])
        before = iamat(h, "Ball", ["IAMAT before-outage +1+1 1.5"])[0]
        wait_until(lambda: h.records("Alford", ["before-outage"]) == {"before-outage": before}, 10,
                   "Alford to see the record from before the outage")
        cluster.stop()
        wait_until(lambda: metric(h, "Alford", "herd_backbone_connected") == 0, 10, "Alford to see NATS gone")
        # The watcher goes while NATS is away, and its successor resumes where it stopped.
        h.wait_for_log("Alford", "watcher dropped (NATS is away)")
        stored = {}
        end = time.monotonic() + 10
        i = 0
        while time.monotonic() < end:
            for name in ("Alford", "Ball"):
                cid = f"outage{i}"
                stored[cid] = iamat(h, name, [f"IAMAT {cid} +3+3 {time.time():.9f}"])[0]
                i += 1
            time.sleep(0.05)
        self.assertEqual(healthz(h, "Alford"), 200)  # an outage later on is not unhealthy
        cluster.start()
        ids = list(stored)
        for name in h.names:
            wait_until(lambda: h.records(name, ids) == stored, 40, f"{name} to hold every outage record")
        h.wait_for_log("Alford", "from stream sequence")

    def test_a_watcher_whose_consumer_vanishes_is_replaced_and_misses_no_record(self):
        # A consumer deleted under a connected server (as an operator or a lost node would):
        # its heartbeats stop, herd retires the watcher and the next resumes where it stopped.
        cluster, h = self.replayed_herd(["Alford", "Ball"])
        first = iamat(h, "Alford", ["IAMAT vanish0 +1+1 1"])[0]
        wait_until(lambda: h.records("Ball", ["vanish0"]) == {"vanish0": first}, 10, "Ball to see vanish0")
        names = cluster.consumers("KV_herd")
        self.assertEqual(len(names), 2, names)  # one watcher per server
        for name in names:
            self.assertTrue(cluster.delete_consumer("KV_herd", name), name)
        # Written while no watcher exists: the next one must start before these.
        lines = [f"IAMAT vanish{i} +1+1 {i}.5" for i in range(1, 200)]
        stored = dict(zip([l.split()[1] for l in lines], iamat(h, "Alford", lines)))
        for n in h.names:
            h.wait_for_log(n, "watcher dropped (a gap in its sequence, or its heartbeats stopped)")
        wait_until(lambda: h.records("Ball", list(stored)) == stored, 20, "Ball to hold every record")
        for n in h.names:
            h.wait_for_log(n, "watching bucket herd from stream sequence 2")
        # The new watchers only (the deleted ones stay deleted; the listing can lag a little).
        wait_until(lambda: len(cluster.consumers("KV_herd")) == 2, 10, "two consumers")

    def test_kill_9_of_nats_nodes_leader_included_under_load_loses_no_acknowledged_record(self):
        cluster, h = self.replayed_herd(["Alford", "Ball"])
        stored = {}
        stop = threading.Event()

        def load():
            k = 0
            while not stop.is_set():
                lines = [f"IAMAT kill{k + j} +4+4 {time.time():.9f}" for j in range(20)]
                for line, reply in zip(lines, iamat(h, "Alford", lines)):
                    stored[line.split()[1]] = reply
                k += 20
                time.sleep(0.01)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(1)
        # The stream's leader first (an election stalls publishes), then another node.
        leader = wait_until(lambda: cluster.stream_leader("KV_herd"), 10, "the stream to have a leader")
        for node in (leader, leader % 3 + 1):
            cluster.kill(node)
            time.sleep(2)
            self.assertTrue(iamat(h, "Ball", ["IAMAT during-kill +4+4 1"])[0].startswith(b"AT Ball "))
            cluster.start_node(node)
            time.sleep(1)
        stop.set()
        t.join()
        # Ball keeps answering throughout; every record Alford stored reaches it.
        ids = list(stored)
        self.assertGreater(len(ids), 500)
        wait_until(lambda: h.records("Ball", ids) == stored, 60, "Ball to hold every record")
        wait_until(lambda: metric(h, "Alford", "herd_backbone_publishes_pending") == 0, 30, "nothing pending")

    def test_everything_stopped_and_started_again_every_record_is_back(self):
        cluster, h = self.replayed_herd(["Alford", "Ball"])
        lines = [f"IAMAT durable{i} +5+5 {i}.25" for i in range(3000)]
        replies = dict(zip([l.split()[1] for l in lines], iamat(h, "Alford", lines)))
        wait_until(lambda: metric(h, "Alford", "herd_backbone_publishes_pending") == 0, 30, "every publish acked")
        h.stop("Alford")
        h.stop("Ball")
        cluster.stop()
        cluster.start()
        h.start("Ball")
        wait_until(lambda: healthz(h, "Ball") == 200, 30, "Ball to replay the bucket")
        self.assertEqual(h.records("Ball", list(replies)), replies)

    def test_an_unreachable_nats_at_start_does_not_stop_the_server_from_serving(self):
        cluster = self.nats_cluster()
        cluster.stop()
        h = self.nats_herd(cluster, names=["Ball"])
        h.start("Ball")
        at = iamat(h, "Ball", ["IAMAT early +6+6 1"])[0]
        self.assertTrue(at.startswith(b"AT Ball "))
        self.assertEqual(healthz(h, "Ball"), 503)
        h.wait_for_log("Ball", "no NATS server answers yet")
        cluster.start()
        try:
            wait_until(lambda: healthz(h, "Ball") == 200, 30, "Ball to replay once NATS is up")
        except AssertionError:
            print(h.log("Ball"))
            raise
        wait_until(lambda: metric(h, "Ball", "herd_backbone_publishes_acked_total") >= 1, 20,
                   "the early record to be published")
