"""The herd command line and herd.toml errors (PROTOCOL.md sections 8 and 9)."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from harness import HERD_BIN, SOURCE_ROOT, HerdTestCase, free_ports, scaled


def run(*args, env=None):
    return subprocess.run([HERD_BIN, *args], capture_output=True, text=True, timeout=scaled(30), env=env)


def write_config(text):
    d = tempfile.mkdtemp(prefix="herd-cli-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    path = os.path.join(d, "herd.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class CliTest(HerdTestCase):
    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--config FILE --name NAME", r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^herd \d+\.\d+\.\d+\n$")

    def test_bad_arguments_exit_2_with_usage(self):
        for args in ([], ["--config"], ["--name", "Ball"], ["--config", "x.toml"], ["--frobnicate"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)

    def test_check_accepts_the_default_herd_toml_and_the_wikipedia_one(self):
        for name in ("herd.toml", "herd-wikipedia.toml"):
            r = run("--config", os.path.join(SOURCE_ROOT, name), "--check")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("OK (5 servers)", r.stdout)

    def test_check_names_file_line_key_and_problem(self):
        path = write_config('[herd]\nworkers = "many"\n[[server]]\nname = "A"\nport = 1\n')
        r = run("--config", path, "--check")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"herd: {path}:2:11: herd.workers: must be an integer\n")
        path = write_config('[[server]]\nname = "A"\nport = 1\nneighbors = ["Nobody"]\n')
        r = run("--config", path, "--check")
        self.assertEqual(r.returncode, 1)
        self.assertIn(':4:14: server[1].neighbors: "Nobody" is not a server of this herd', r.stderr)

    def test_missing_config_file(self):
        r = run("--config", "/nonexistent/herd.toml", "--check")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/herd.toml: cannot read the file", r.stderr)

    def test_unknown_server_name(self):
        r = run("--config", os.path.join(SOURCE_ROOT, "herd.toml"), "--name", "Nobody")
        self.assertEqual(r.returncode, 1)
        self.assertIn('no [[server]] named "Nobody"', r.stderr)

    def test_port_in_use_is_refused(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        path = write_config(f'[[server]]\nname = "A"\nport = {port}\n')
        r = run("--config", path, "--name", "A")
        blocker.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"cannot bind 127.0.0.1 port {port}", r.stderr)

    def test_second_server_on_the_same_port_is_refused(self):
        h = self.herd()
        h.start()
        r = run("--config", h.config, "--name", "Ball")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is another server running there?", r.stderr)
        self.assertEqual(h.client().request("bad"), b"? bad\n")

    def test_sigint_stops_cleanly_and_log_is_under_the_config_folder(self):
        h = self.herd()
        h.start()
        h.stop("Ball", sig=signal.SIGINT)
        log = h.log("Ball")
        self.assertIn("starting server Ball", log)
        self.assertIn("SIGINT", log)
        self.assertIn("stopped", log)

    def test_unreadable_offline_data_is_refused(self):
        (port,) = free_ports(1)
        path = write_config(f'[places]\ndata = "missing.tsv"\n[[server]]\nname = "A"\nport = {port}\n')
        r = run("--config", path, "--name", "A")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read offline places data", r.stderr)

    def test_unwritable_log_dir_is_refused(self):
        (port,) = free_ports(1)
        path = write_config(f'[herd]\nlog_dir = "/proc/nope"\n[[server]]\nname = "A"\nport = {port}\n')
        r = run("--config", path, "--name", "A")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot create log folder", r.stderr)
