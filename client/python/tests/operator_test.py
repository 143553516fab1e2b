"""ps_server's HTTP port as operators use it (ps_server --http_port):
promtool, Prometheus' own linter, accepts /metrics, and a real Prometheus
server scrapes a server while workers pull and push, and answers a
counter's rate through its HTTP API."""

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np

import paramserver as tf
from conftest import Server



def _get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=10) as reply:
        return reply.read().decode()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_promtool_accepts_the_metrics_of_a_working_server():
    with tempfile.TemporaryDirectory() as data_dir:
        server = Server("--http_port=0", "--data_dir=" + data_dir,
                        "--initialize_data_dir")
        try:
            tf.connect(server.address)
            with tf.variable_scope("lint"):
                v = tf.get_variable("v", [4])
            v.assign_add(np.ones(4, np.float32))
            v.numpy()
            with np.testing.assert_raises(tf.VariableError):
                tf.get_variable("lint/v", [4])  # ALREADY_EXISTS, counted.
            metrics = _get(server.http_port(), "/metrics")
        finally:
            server.stop()
    assert 'grpc_code="AlreadyExists"' in metrics
    assert "ps_wal_fsync_seconds_bucket" in metrics
    lint = subprocess.run(["promtool", "check", "metrics"], input=metrics,
                          capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip() == "" and lint.stderr.strip() == "", \
        lint.stdout + lint.stderr


def test_prometheus_scrapes_a_server_while_workers_train(tmp_path):
    server = Server("--http_port=0")
    prometheus = None
    stop = threading.Event()
    try:
        http_port = server.http_port()
        web_port = _free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n  - job_name: paramserver\n"
            "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" %
            http_port)
        prometheus = subprocess.Popen(
            ["prometheus", "--config.file=%s" % config,
             "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % web_port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        tf.connect(server.address)
        with tf.variable_scope("scraped"):
            w = tf.get_variable("w", [1024])
        optimizer = tf.train.GradientDescentOptimizer(0.1)
        gradient = np.ones(1024, np.float32)

        pushes = []  # Times of the worker's pushes.

        def train():
            while not stop.is_set():
                w.numpy()
                optimizer.apply_gradients([(gradient, w)])
                pushes.append(time.time())
                time.sleep(0.005)

        worker = threading.Thread(target=train)
        worker.start()
        series = ('grpc_server_handled_total{grpc_method="Push",'
                  'grpc_code="OK"}')

        def ask(expression):
            """The expression's one value, or None (no answer yet)."""
            try:
                answer = json.loads(_get(web_port, "/api/v1/query?" +
                                         urllib.parse.urlencode(
                                             {"query": expression})))
            except OSError:
                return None  # Prometheus is still starting.
            result = answer["data"]["result"]
            return float(result[0]["value"][1]) if result else None

        # Once Prometheus holds 8 scrapes of the last 10 s, its rate over
        # 8 s rests on enough samples to compare with the worker's own.
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(1)
            if (ask("count_over_time(%s[10s])" % series) or 0) >= 8:
                break
        asked_at = time.time()
        rate = ask("sum(rate(%s[8s]))" % series)
        stop.set()
        worker.join()
        assert rate is not None and rate > 0, "Prometheus saw no pushes"
        observed = len([t for t in pushes if asked_at - 8 < t <= asked_at])
        assert 0.3 * observed / 8 < rate < 3 * observed / 8, (rate, observed)
        targets = json.loads(_get(web_port, "/api/v1/targets"))
        [target] = targets["data"]["activeTargets"]
        assert target["health"] == "up", target
    finally:
        stop.set()
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        server.stop()
