"""Links and clients over TLS (PROTOCOL.md section 11): mutual TLS 1.3 between servers,
the client TLS port, refusals of bad certificates and plaintext, SIGHUP reloads, garbage
records, and herd --check of the TLS files. Certificates are made at test time by
tools/make-certs."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

from harness import HERD_BIN, NAMES, TOPOLOGY, Client, HerdTestCase, TlsClient, scaled, wait_until

SECRET = "tls and a secret"
SANITIZED = bool(os.environ.get("HERD_TEST_SANITIZER"))
# Alford dials Ball (names sort), so a test client can play Alford dialling Ball.
PAIR = {"Alford": ["Ball"], "Ball": ["Alford"]}


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def mask_time_diff(reply):
    """An AT reply with its server time difference masked (it differs between two IAMATs)."""
    return re.sub(rb"^AT (\S+) [+-][0-9.]+ ", rb"AT \1 * ", reply, flags=re.M)


class TlsTest(HerdTestCase):
    def tls_herd(self, names, topology, **kw):
        return self.herd(names=names, topology=topology, tls=True, **kw)

    def tls_client(self, h, name="Ball", **kw):
        return TlsClient(h.tls_ports[name], os.path.join(h.certs, "ca.pem"), **kw)

    def fake_neighbour(self, h, cert_dir, name, target="Ball"):
        """A TLS connection to target's client port presenting cert_dir/name.pem, as a
        neighbour's dialling link does. The handshake may fail later (TLS 1.3 clients finish
        before the server checks their certificate)."""
        return TlsClient(h.ports[target], os.path.join(h.certs, "ca.pem"),
                         cert=os.path.join(cert_dir, f"{name}.pem"), key=os.path.join(cert_dir, f"{name}.key"),
                         server_name=target)

    def assert_refused(self, conn, hello):
        """The connection is closed without a HERD-OK, however the refusal arrives."""
        try:
            conn.send(hello)
            out = conn.read_to_eof()
        except (ssl.SSLError, OSError) as e:
            out = str(e).encode()
        self.assertNotIn(b"HERD-OK", out)
        conn.close()

    def assert_not_stored(self, h, name, client_id):
        time.sleep(scaled(0.3))
        self.assertIsNone(h.record(name, client_id))


class TlsLinksTest(TlsTest):
    def test_links_come_up_and_records_flood_over_tls_across_the_five_servers(self):
        h = self.tls_herd(NAMES, TOPOLOGY, secret=SECRET)
        h.start_all()
        for origin in NAMES:
            c = h.client(origin)
            at = c.request(f"IAMAT tls-{origin} +34.068930-118.445127 {time.time():.9f}")
            c.close()
            for other in NAMES:
                h.wait_record(other, f"tls-{origin}", at)
        h.wait_for_log("Ball", "link Holiday up (dialled")
        log = h.log("Ball")
        self.assertRegex(log, r"link Holiday \(127\.0\.0\.1:\d+\): TLS established \(TLSv1\.3 ")
        self.assertRegex(log, r"link Welsh \(127\.0\.0\.1:\d+\): TLS established \(TLSv1\.3 ")
        # The HMAC handshake still runs, inside TLS.
        self.assertIn("< HERD-CHALLENGE Holiday", log)
        self.assertNotIn("TLS error", log)

    def test_kill_and_restart_catch_up_over_tls(self):
        h = self.tls_herd(["Ball", "Holiday"], TOPOLOGY, workers=1)
        h.start_all()
        h.wait_for_log("Ball", "link Holiday up")
        c = h.client("Ball")
        n = 5000
        c.send("".join(f"IAMAT cu{i} +1+1 {i}.5\n" for i in range(n)))
        for _ in range(n):
            c.read_line()
        c.close()
        h.kill("Holiday")
        h.start("Holiday")
        h.wait_for_log("Holiday", f"catch-up of 0 records starts")
        wait_until(lambda: f"catch-up sent {n} records" in h.log("Ball"), 30, "Ball's catch-up")
        # Sent is not yet applied: Holiday may still be reading what Ball wrote.
        sample = [f"cu{i}" for i in range(0, n, 97)]
        wait_until(lambda: all(v is not None for v in h.records("Holiday", sample).values()), scaled(20),
                   "Holiday to hold every sampled record of the catch-up")
        self.assertEqual(h.record("Holiday", f"cu{n - 1}"), h.record("Ball", f"cu{n - 1}"))

    def test_a_neighbour_with_a_certificate_from_another_ca_is_refused(self):
        h = self.tls_herd(["Alford", "Ball"], PAIR)
        other = os.path.join(h.dir, "other-ca")
        h.make_certs(other, "--server", "Alford")
        h.start("Ball")
        try:
            conn = self.fake_neighbour(h, other, "Alford")
            self.assert_refused(conn, "HERD-HELLO Alford Ball " + "ab" * 16 + "\nAT Alford +1 evil +1+1 1\n")
        except (ssl.SSLError, EOFError, OSError):
            pass  # refused during the handshake
        h.wait_for_log("Ball", "certificate verify failed")
        self.assertNotIn("link Alford up", h.log("Ball"))
        self.assert_not_stored(h, "Ball", "evil")

    def test_a_neighbour_with_an_expired_certificate_is_refused(self):
        h = self.tls_herd(["Alford", "Ball"], PAIR)
        expired = os.path.join(h.dir, "expired")
        shutil.copytree(h.certs, expired)
        h.make_certs(expired, "--server", "Alford", "--days", "-1")
        h.start("Ball")
        try:
            conn = self.fake_neighbour(h, expired, "Alford")
            self.assert_refused(conn, "HERD-HELLO Alford Ball " + "ab" * 16 + "\nAT Alford +1 evil +1+1 1\n")
        except (ssl.SSLError, EOFError, OSError):
            pass
        h.wait_for_log("Ball", "certificate has expired")
        self.assertNotIn("link Alford up", h.log("Ball"))
        self.assert_not_stored(h, "Ball", "evil")

    def test_a_neighbour_whose_certificate_names_another_server_is_refused(self):
        h = self.tls_herd(["Alford", "Ball", "Holiday"], {"Alford": ["Ball"], "Ball": ["Alford", "Holiday"]})
        h.start("Ball")
        # A valid certificate of the herd, but Holiday's, claiming to be Alford.
        conn = self.fake_neighbour(h, h.certs, "Holiday")
        self.assert_refused(conn, "HERD-HELLO Alford Ball " + "ab" * 16 + "\nAT Alford +1 evil +1+1 1\n")
        h.wait_for_log("Ball", "does not name Alford")
        self.assertNotIn("link Alford up", h.log("Ball"))
        self.assert_not_stored(h, "Ball", "evil")

    def test_a_dialled_neighbour_whose_certificate_names_another_server_is_refused(self):
        """Ball dials Holiday; whoever answers on Holiday's port with Welsh's certificate is
        not linked."""
        h = self.tls_herd(["Ball", "Holiday", "Welsh"], {"Ball": ["Holiday"]})
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(h.certs, "Welsh.pem"), os.path.join(h.certs, "Welsh.key"))
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", h.ports["Holiday"]))
        listener.listen(4)
        listener.settimeout(scaled(10))
        h.start("Ball")
        raw, _ = listener.accept()
        try:
            tls = ctx.wrap_socket(raw, server_side=True)
            tls.settimeout(scaled(5))
            tls.recv(100)
        except (ssl.SSLError, OSError, socket.timeout):
            pass
        h.wait_for_log("Ball", "hostname mismatch")
        self.assertNotIn("link Holiday up", h.log("Ball"))
        listener.close()

    def test_a_plaintext_neighbour_is_refused_by_a_tls_herd(self):
        h = self.tls_herd(["Alford", "Ball"], PAIR)
        h.start("Ball")
        c = Client(h.ports["Ball"])
        c.send("HERD-HELLO Alford Ball " + "ab" * 16 + "\nAT Alford +1 evil +1+1 1\n")
        out = c.read_to_eof()
        self.assertNotIn(b"HERD-OK", out)
        c.close()
        c = Client(h.ports["Ball"])
        c.send("HERD-WAKE Alford Ball\n")
        c.read_to_eof()
        c.close()
        # The log is written asynchronously: wait for both refusals.
        wait_until(lambda: h.log("Ball").count("): plaintext link handshake refused") == 2, 10,
                   "both refusals in Ball's log")
        log = h.log("Ball")
        self.assertNotIn("link Alford up", log)
        self.assert_not_stored(h, "Ball", "evil")

    def test_garbage_and_truncated_tls_records_close_only_that_connection(self):
        h = self.tls_herd(["Alford", "Ball"], PAIR, admin=True)
        h.start_all()
        h.wait_for_log("Ball", "link Alford up")
        client = h.client("Ball")
        tls_client = self.tls_client(h)
        # A handshake record header with garbage after it, on the link path and the TLS port.
        for port in (h.ports["Ball"], h.tls_ports["Ball"]):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"\x16\x03\x01\x00\x40" + os.urandom(64) + b"\x17\x03\x03\xff\xff" + b"x" * 1000)
            s.settimeout(scaled(5))
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
        # A truncated record: the first bytes of a handshake, then the peer goes away.
        s = socket.create_connection(("127.0.0.1", h.tls_ports["Ball"]))
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00")
        s.close()
        # An established TLS client that sends a forged application-data record.
        bad = self.tls_client(h)
        bad.send("IAMAT before +1+1 1\n")
        self.assertTrue(bad.read_line().startswith(b"AT Ball "))
        bad.sock.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))
        with self.assertRaises((EOFError, ssl.SSLError, ConnectionResetError)):
            bad.read_line()
        bad.close()
        h.wait_for_log("Ball", "TLS error")
        # Everything else is untouched: the link, a plaintext client, a TLS client.
        self.assertTrue(client.request("IAMAT p +1+1 1").startswith(b"AT Ball "))
        self.assertTrue(tls_client.request("IAMAT q +1+1 1").startswith(b"AT Ball "))
        h.wait_record("Alford", "q", h.record("Ball", "q"))
        log = h.log("Ball")
        self.assertEqual(log.count("link Alford up"), 1)
        self.assertNotIn("link Alford down", log)
        client.close()
        tls_client.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{h.admin_ports['Ball']}/metrics", timeout=5) as r:
            text = r.read().decode()
        self.assertRegex(text, r'herd_tls_failures_total\{on="link"\} [1-9]')
        self.assertRegex(text, r'herd_tls_failures_total\{on="client"\} [2-9]')


class TlsClientPortTest(TlsTest):
    LINES = ["IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
             "WHATSAT kiwi.cs.ucla.edu 10 5",
             "WHATSAT nobody 10 5",
             "IAMAT bad",
             "",
             "WHATSAT kiwi.cs.ucla.edu 50 2"]

    def exchange(self, c, lines, final_newline=True, half_close=False, notify=False):
        data = "\n".join(lines) + ("\n" if final_newline else "")
        c.send(data)
        if notify:
            c.close_notify()
        if half_close:
            c.shutdown_write()
        try:
            return c.read_to_eof()
        finally:
            c.close()

    def test_the_tls_port_answers_byte_for_byte_like_the_plaintext_port(self):
        h = self.tls_herd(["Ball"], None, workers=2)
        h.start("Ball")
        lines = self.LINES * 40  # pipelined: every line sent at once
        plain = self.exchange(h.client("Ball"), lines, final_newline=False, half_close=True)
        over_tls = self.exchange(self.tls_client(h), lines, final_newline=False, half_close=True)
        self.assertGreater(len(plain), 10000)
        self.assertEqual(mask_time_diff(over_tls), mask_time_diff(plain))
        # close_notify is a half-close too: every reply still comes.
        notified = self.exchange(self.tls_client(h), lines, notify=True)
        self.assertEqual(mask_time_diff(notified), mask_time_diff(plain))
        log = h.log("Ball")
        self.assertIn("(TLS port)", log)
        self.assertRegex(log, r"client \d+: TLS established \(TLSv1\.[23] ")

    def test_back_pressure_holds_on_the_tls_port(self):
        """A TLS client that pipelines WHATSATs (~1 KiB replies each) and never reads: the
        server stops reading at 4 MiB owed, so the client's writes stall after a bounded
        number of bytes and the server's memory stays bounded (PROTOCOL.md section 10)."""
        h = self.tls_herd(["Ball"], None, workers=1)
        h.start("Ball")
        pid = h.procs["Ball"].pid
        c = self.tls_client(h)
        c.send("IAMAT bp +1+1 1\n")
        c.read_line()
        rss0 = rss_mib(pid)
        chunk = b"WHATSAT bp 50 20\n" * 256
        c.sock.setblocking(False)
        sent, pending, stalled_since = 0, b"", None
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            if not pending:
                c.tls.write(chunk)
                pending = c.outgoing.read()
            try:
                n = c.sock.send(pending)
                pending = pending[n:]
                sent += n
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > scaled(2):
                    break
                time.sleep(0.01)
        self.assertIsNotNone(stalled_since, f"the server kept reading ({sent} bytes)")
        # 4 MiB of replies is ~4,000 lines (~70 KB of input); socket buffers add a few MiB.
        self.assertLess(sent, 16 * 1024 * 1024)
        if not SANITIZED:
            self.assertLess(rss_mib(pid) - rss0, 64, "RSS grew past the owed-replies bound")
        s = self.tls_client(h)
        self.assertTrue(s.request("IAMAT other +1+1 1").startswith(b"AT Ball "))
        s.close()
        c.close()

    def test_sighup_reloads_the_certificate_for_new_connections_only(self):
        h = self.tls_herd(["Ball"], None, workers=2)
        h.start("Ball")
        old_conn = self.tls_client(h, server_name="Ball")
        before = old_conn.peer_certificate()
        h.make_certs(h.certs, "--server", "Ball")
        h.procs["Ball"].send_signal(signal.SIGHUP)
        h.wait_for_log("Ball", "TLS reloaded")
        new_conn = self.tls_client(h, server_name="Ball")
        after = new_conn.peer_certificate()
        self.assertNotEqual(before, after)
        # The established connection is kept.
        self.assertTrue(old_conn.request("IAMAT old +1+1 1").startswith(b"AT Ball "))
        # A reload that fails keeps what was loaded, and says why.
        with open(os.path.join(h.certs, "Ball.pem"), "w") as f:
            f.write("not a certificate\n")
        h.procs["Ball"].send_signal(signal.SIGHUP)
        h.wait_for_log("Ball", "TLS reload failed")
        self.assertIn("Ball.pem: holds no PEM certificate", h.log("Ball"))
        third = self.tls_client(h, server_name="Ball")
        self.assertEqual(third.peer_certificate(), after)
        self.assertTrue(third.request("IAMAT third +1+1 1").startswith(b"AT Ball "))
        for c in (old_conn, new_conn, third):
            c.close()

    def test_a_tls_handshake_that_never_finishes_is_closed(self):
        h = self.tls_herd(["Ball"], None, workers=1)
        h.start("Ball")
        s = socket.create_connection(("127.0.0.1", h.tls_ports["Ball"]))
        s.sendall(b"\x16\x03\x01")
        s.settimeout(scaled(20))
        started = time.monotonic()
        self.assertEqual(s.recv(100), b"")
        self.assertGreater(time.monotonic() - started, 5)
        h.wait_for_log("Ball", "TLS handshake timed out")
        s.close()


class TlsCheckTest(TlsTest):
    def check(self, h, *args):
        return subprocess.run([HERD_BIN, "--config", h.config, "--check", *args], capture_output=True, text=True)

    def test_check_validates_the_tls_files_and_names_each_problem(self):
        h = self.tls_herd(["Alford", "Ball", "Holiday", "Welsh"], TOPOLOGY)
        ok = self.check(h)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("TLS files valid", ok.stdout)
        certs = h.certs
        # Alford: expired. Ball: signed by another CA. Holiday: a certificate naming Welsh.
        # Welsh: a key that is not its certificate's.
        h.make_certs(certs, "--server", "Alford", "--days", "-1")
        other = os.path.join(h.dir, "other")
        h.make_certs(other, "--server", "Ball")
        shutil.copy(os.path.join(other, "Ball.pem"), os.path.join(certs, "Ball.pem"))
        shutil.copy(os.path.join(other, "Ball.key"), os.path.join(certs, "Ball.key"))
        shutil.copy(os.path.join(certs, "Welsh.pem"), os.path.join(certs, "Holiday.pem"))
        shutil.copy(os.path.join(certs, "Alford.key"), os.path.join(certs, "Welsh.key"))
        r = self.check(h)
        self.assertEqual(r.returncode, 1)
        err = r.stderr
        self.assertRegex(err, r'server "Alford" tls_cert \S+/certs/Alford\.pem: the certificate expired on ')
        self.assertRegex(err, r'server "Ball" tls_cert \S+/certs/Ball\.pem: does not verify as a TLS server '
                              r'certificate against tls\.ca \S+ca\.pem: unable to get local issuer certificate')
        self.assertRegex(err, r'server "Holiday" tls_cert \S+/certs/Holiday\.pem: does not name server "Holiday"')
        self.assertRegex(err, r'server "Welsh" tls_key \S+/certs/Welsh\.key: does not match the certificate')
        # --name checks one server only (a host holds only its own key).
        one = self.check(h, "--name", "Holiday")
        self.assertEqual(one.returncode, 1)
        self.assertNotIn("Alford", one.stderr)
        os.remove(os.path.join(certs, "Welsh.key"))
        missing = self.check(h, "--name", "Welsh")
        self.assertRegex(missing.stderr, r'server "Welsh" tls_key \S+/certs/Welsh\.key: cannot read it: No such file')
        # A server whose files do not check refuses to start, with the same message.
        p = subprocess.run([HERD_BIN, "--config", h.config, "--name", "Holiday"], capture_output=True, text=True,
                           timeout=scaled(30))
        self.assertEqual(p.returncode, 1)
        self.assertIn('does not name server "Holiday"', p.stderr)

    def test_a_certificate_naming_the_server_in_its_common_name_only_is_accepted(self):
        h = self.tls_herd(["Alford", "Ball"], PAIR)
        h.make_certs(h.certs, "--server", "Alford", "--no-san")
        self.assertEqual(self.check(h).returncode, 0)
        h.start_all()
        h.wait_for_log("Ball", "link Alford up")
