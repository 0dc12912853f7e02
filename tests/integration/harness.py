"""Test harness: starts real herd processes on free 127.0.0.1 ports and talks to them.

Environment: HERD_BIN (the binary), HERD_SOURCE_ROOT (the source tree) and
HERD_TEST_SLOWDOWN (a factor for every time-out; sanitizer builds are slower).
Nothing here asserts on speed: time-outs only bound how long a failing test waits.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

HERD_BIN = os.environ.get("HERD_BIN", "build/src/herd")
SOURCE_ROOT = os.environ.get("HERD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SLOWDOWN = float(os.environ.get("HERD_TEST_SLOWDOWN", "1"))
MAKE_CERTS = os.path.join(SOURCE_ROOT, "tools", "make-certs")
NATS_CLUSTER = os.path.join(SOURCE_ROOT, "tools", "nats-cluster")
SANITIZER_MARKS = ("handles still open", "AddressSanitizer", "ThreadSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")
NAMES = ["Alford", "Ball", "Hamilton", "Holiday", "Welsh"]
TOPOLOGY = {"Alford": ["Hamilton", "Welsh"], "Ball": ["Holiday", "Welsh"], "Hamilton": ["Alford", "Holiday"],
            "Holiday": ["Ball", "Hamilton"], "Welsh": ["Alford", "Ball"]}


def scaled(seconds):
    return seconds * SLOWDOWN


def free_ports(n):
    """n distinct ports that were free a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Client:
    """A blocking TCP client with time-outs."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def read_until(self, marker):
        if isinstance(marker, str):
            marker = marker.encode()
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_line(self):
        return self.read_until(b"\n")

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        """Everything until the server closes (a reset, after unread input, counts as a close)."""
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b""
        return out

    def read_whatsat(self):
        """One WHATSAT reply: the AT line, then JSON up to the blank line."""
        return self.read_until(b"\n\n")

    def request(self, line):
        self.send(line + "\n")
        return self.read_line()

    def close(self):
        self.sock.close()



class TlsClient(Client):
    """A client over TLS, driven through memory BIOs so that the TCP write side can be shut
    while the TLS layer keeps reading (half-close), which ssl.SSLSocket cannot do.
    cert/key: a client certificate to present (links); server_name: the name the server's
    certificate must carry (None: not checked)."""

    def __init__(self, port, ca, cert=None, key=None, server_name=None, timeout=10, handshake=True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        ctx.check_hostname = server_name is not None
        if cert:
            ctx.load_cert_chain(cert, key)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name)
        self.buf = b""
        self.eof = False
        if handshake:
            self.handshake()

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _recv_raw(self):
        chunk = self.sock.recv(65536)
        if chunk:
            self.incoming.write(chunk)
        else:
            self.incoming.write_eof()
        return chunk

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                if not self._recv_raw():
                    raise EOFError("connection closed during the TLS handshake")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.tls.write(data)
        self._flush()

    def close_notify(self):
        """Sends TLS close_notify (the TLS half-close), without waiting for the server's."""
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()

    def peer_certificate(self):
        return self.tls.getpeercert(binary_form=True)

    def _fill(self):
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                if not self._recv_raw():
                    raise EOFError("connection closed by the server without close_notify")
                continue
            except ssl.SSLZeroReturnError:
                raise EOFError("close_notify from the server")
            if not chunk:
                raise EOFError("connection closed by the server")
            self.buf += chunk
            return


class Herd:
    """Some servers of a herd, each a real herd process, configured in a temporary folder."""

    def __init__(self, names=("Ball",), topology=None, herd_extra="", places_extra="", workers=2, env_extra=None,
                 secret=None, admin=False, tls=False, nats=None, bucket="herd", replicas=3):
        """tls: every link over mutual TLS and a client TLS port per server (tls_ports), with
        development certificates made by tools/make-certs in <dir>/certs (PROTOCOL.md section 11)."""
        self.dir = tempfile.mkdtemp(prefix="herd-test-")
        self.names = list(names)
        self.ports = dict(zip(self.names, free_ports(len(self.names))))
        self.admin_ports = dict(zip(self.names, free_ports(len(self.names)))) if admin else {}
        self.tls_ports = dict(zip(self.names, free_ports(len(self.names)))) if tls else {}
        self.certs = os.path.join(self.dir, "certs")
        topology = topology if topology is not None else {n: [] for n in self.names}
        lines = ["[herd]", 'log_dir = "logs"', f"workers = {workers}", herd_extra, "[places]", places_extra]
        if tls:
            lines += ["[tls]", 'ca = "certs/ca.pem"']
        if nats is not None:
            urls = ", ".join(f'"{u}"' for u in nats.urls)
            lines += ["[backbone]", 'kind = "nats"', f"servers = [{urls}]", f'bucket = "{bucket}"',
                      f"replicas = {replicas}"]
        for n in self.names:
            nbrs = ", ".join(f'"{x}"' for x in topology.get(n, []) if x in self.ports)
            lines += ["[[server]]", f'name = "{n}"', 'host = "127.0.0.1"', f"port = {self.ports[n]}",
                      f"neighbors = [{nbrs}]"]
            if n in self.admin_ports:
                lines.append(f"admin_port = {self.admin_ports[n]}")
            if tls:
                lines += [f"tls_port = {self.tls_ports[n]}", f'tls_cert = "certs/{n}.pem"', f'tls_key = "certs/{n}.key"']
        self.config = os.path.join(self.dir, "herd.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        if tls:
            self.make_certs(self.certs)
        self.env = dict(os.environ)
        self.env.pop("HERD_SECRET", None)
        if secret is not None:
            self.env["HERD_SECRET"] = secret
        self.env.update(env_extra or {})
        self.procs = {}

    def make_certs(self, folder, *args):
        """Runs tools/make-certs for this herd's config into folder (extra args passed on)."""
        subprocess.run([MAKE_CERTS, self.config, folder, *args], check=True, capture_output=True)

    def log_path(self, name):
        return os.path.join(self.dir, "logs", f"{name}.log")

    def log(self, name="Ball"):
        try:
            with open(self.log_path(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_log(self, name, text, timeout=10):
        """The log is written asynchronously and flushed every second: poll it."""
        return wait_until(lambda: text in self.log(name), timeout + 2, f"{text!r} in {name}.log")

    def start(self, name="Ball", wait=True, env=None):
        stderr = open(os.path.join(self.dir, f"{name}.stderr"), "ab")
        self.procs[name] = subprocess.Popen([HERD_BIN, "--config", self.config, "--name", name],
                                            stdout=subprocess.DEVNULL, stderr=stderr,
                                            env=dict(self.env, **(env or {})))
        stderr.close()
        if wait:
            self.wait_listening(name)
        return self.procs[name]

    def start_all(self):
        for n in self.names:
            self.start(n, wait=False)
        for n in self.names:
            self.wait_listening(n)

    def wait_listening(self, name):
        def up():
            if self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited with {self.procs[name].returncode}: {self.stderr(name)}")
            try:
                socket.create_connection(("127.0.0.1", self.ports[name]), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, 20, f"{name} to listen")

    def stderr(self, name):
        try:
            with open(os.path.join(self.dir, f"{name}.stderr"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def client(self, name="Ball"):
        return Client(self.ports[name])

    def record(self, name, client_id):
        """The AT line server `name` holds for a client (bytes, with its newline), or None."""
        return self.records(name, [client_id])[client_id]

    def records(self, name, client_ids):
        """The AT lines server `name` holds for many clients, asked on one pipelined connection."""
        c = self.client(name)
        try:
            c.send("".join(f"WHATSAT {cid} 0.001 1\n" for cid in client_ids))
            out = {}
            for cid in client_ids:
                first = c.read_line()
                if first.startswith(b"? "):
                    out[cid] = None
                else:
                    c.read_until(b"\n\n")
                    out[cid] = first
            return out
        finally:
            c.close()

    def wait_record(self, name, client_id, line, timeout=15):
        return wait_until(lambda: self.record(name, client_id) == line, timeout,
                          f"{name} to hold {line!r} (holds {self.record(name, client_id)!r})")

    def link_up_count(self, name, peer):
        return self.log(name).count(f"link {peer} up (")

    def stop(self, name="Ball", sig=signal.SIGTERM):
        """Stops a server and asserts it exited 0 with no sanitizer report."""
        p = self.procs.pop(name)
        p.send_signal(sig)
        try:
            rc = p.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError(f"{name} did not stop within 20 s of {sig}")
        err = self.stderr(name)
        if rc != 0 or any(m in err for m in SANITIZER_MARKS):
            raise AssertionError(f"{name} exited with {rc}; stderr:\n{err}")

    def kill(self, name):
        """Kills a server with SIGKILL (a crash)."""
        p = self.procs.pop(name)
        p.kill()
        p.wait()

    def stop_all(self):
        errors = []
        for n in list(self.procs):
            try:
                self.stop(n)
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))


class NatsCluster:
    """A local 3-node NATS JetStream cluster (tools/nats-cluster) on free 127.0.0.1 ports:
    clients on base..base+2, routes on base+100.., monitoring on base+200.."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herd-nats-")
        rng = __import__("random").Random()
        # Below the kernel's ephemeral range: while the cluster is stopped (an outage test),
        # the clients' and servers' own connections must not take its ports.
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                ephemeral_low = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            ephemeral_low = 32768
        top = max(10300, min(40000, ephemeral_low) - 300)
        for _ in range(200):
            base = rng.randrange(10000, top)
            ports = [base + off + i for off in (0, 100, 200) for i in range(3)]
            if all(port_free(p) for p in ports):
                break
        self.base = base
        self.urls = [f"nats://127.0.0.1:{base + i}" for i in range(3)]

    def run(self, *args):
        r = subprocess.run([NATS_CLUSTER, *args], capture_output=True, text=True, timeout=scaled(60))
        if r.returncode != 0:
            raise AssertionError(f"tools/nats-cluster {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout}{r.stderr}")

    def start(self):
        self.run("start", self.dir, str(self.base))
        return self

    def start_node(self, n):
        self.run("start-node", self.dir, str(n))

    def stop(self, n=None):
        self.run("stop", self.dir, *([str(n)] if n else []))

    def kill(self, n):
        self.run("kill", self.dir, str(n))

    def stream_leader(self, stream, ask=1):
        """The node number (1-3) leading a stream's replicas, from node `ask`'s /jsz; None if
        none is known."""
        import json
        import urllib.request
        url = f"http://127.0.0.1:{self.base + 199 + ask}/jsz?streams=1&accounts=1"
        with urllib.request.urlopen(url, timeout=5) as r:
            j = json.load(r)
        for account in j.get("account_details", []):
            for s in account.get("stream_detail", []):
                if s.get("name") == stream:
                    leader = s.get("cluster", {}).get("leader", "")
                    return int(leader[1:]) if leader.startswith("n") else None
        return None

    def request(self, subject, payload=b"", node=1, timeout=5):
        """One NATS request over the plain protocol (no client library): the reply's payload."""
        import json
        with socket.create_connection(("127.0.0.1", self.base + node - 1), timeout=timeout) as s:
            f = s.makefile("rb")
            f.readline()  # INFO
            inbox = "_INBOX.herdtest"
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n'
                      + f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode()
                      + payload + b"\r\n")
            while True:
                line = f.readline()
                if not line:
                    raise AssertionError(f"NATS closed the connection asking {subject}")
                if line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG "):
                    body = f.read(int(line.split()[-1]) + 2)[:-2]
                    return json.loads(body)
                elif line.startswith(b"-ERR"):
                    raise AssertionError(f"NATS: {line!r}")

    def consumers(self, stream):
        """The names of a stream's consumers."""
        return self.request(f"$JS.API.CONSUMER.NAMES.{stream}").get("consumers") or []

    def delete_consumer(self, stream, name):
        return self.request(f"$JS.API.CONSUMER.DELETE.{stream}.{name}").get("success", False)


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class HerdTestCase(unittest.TestCase):
    """Stops every herd a test started, checking each exits cleanly."""

    def setUp(self):
        self.herds = []
        self.clusters = []

    def nats_cluster(self):
        c = NatsCluster().start()
        self.clusters.append(c)
        return c

    def herd(self, *args, **kwargs):
        h = Herd(*args, **kwargs)
        self.herds.append(h)
        return h

    def tearDown(self):
        try:
            for h in self.herds:
                h.stop_all()
        finally:
            for c in self.clusters:
                c.stop()
            # A passing test leaves nothing behind (logs of a million-record test are GBs);
            # a failing one keeps its folders for a look.
            outcome = getattr(self, "_outcome", None)
            failed = outcome is not None and not getattr(outcome, "success", True)
            if not failed:
                for d in [h.dir for h in self.herds] + [c.dir for c in self.clusters]:
                    shutil.rmtree(d, ignore_errors=True)
