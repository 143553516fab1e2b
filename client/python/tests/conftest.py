"""Fixtures: a real ps_server on a free loopback port, and a connection."""

import os
import re
import subprocess
import tempfile
import time

import pytest

import paramserver as tf


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "large_memory: needs several GiB; its own Bazel target")


def _binary(env, *path):
    binary = os.environ.get(env)
    if binary:
        return binary
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "bazel-bin", *path)


def psctl_binary():
    return _binary("PSCTL", "client", "psctl")


def _server_binary():
    binary = os.environ.get("PS_SERVER")
    if binary:
        return binary
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "bazel-bin", "server",
                        "ps_server")


class Server:
    """ps_server started with `flags`; stopped by stop()."""

    def __init__(self, *flags):
        self.log = tempfile.NamedTemporaryFile(prefix="ps_server_",
                                               suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [_server_binary(), "--port=0"] + list(flags),
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while True:
            with open(self.log.name) as log:
                found = re.search(r"Serving on (\S+)", log.read())
            if found:
                self.address = found.group(1)
                return
            if self.process.poll() is not None or time.time() > deadline:
                with open(self.log.name) as log:
                    raise RuntimeError("ps_server did not start: " +
                                       log.read())
            time.sleep(0.02)

    def log_text(self):
        with open(self.log.name) as log:
            return log.read()

    def http_port(self, tls=False):
        """The port of --http_port, from the "HTTP on HOST:PORT" log line
        (which says "over TLS" when it serves HTTPS)."""
        found = re.search(r"HTTP on \S+:(\d+)" + (" over TLS" if tls else ""),
                          self.log_text())
        assert found, self.log_text()
        return int(found.group(1))

    def stop(self):
        """Stops the server; raises with its log if it had exited by itself
        (a crash, or a sanitizer's report) before being asked to."""
        exited = self.process.poll()
        if exited is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        log = self.log_text()
        os.unlink(self.log.name)
        if exited is not None:
            raise RuntimeError("ps_server exited by itself (status %s); its "
                               "log ends:\n%s" % (exited, log[-20000:]))


@pytest.fixture(scope="session")
def server():
    running = Server()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cluster3():
    """Three servers of job "py", shards 0, 1 and 2."""
    servers = [Server("--job=py", "--shard_index=%d" % i, "--shard_count=3")
               for i in range(3)]
    yield servers
    for running in servers:
        running.stop()


@pytest.fixture
def connected(server, request):
    """Connected to the session's server; yields a scope name of the test's
    own, so tests never share variables."""
    tf.connect(server.address)
    yield request.node.name.replace("[", "_").replace("]", "_")
