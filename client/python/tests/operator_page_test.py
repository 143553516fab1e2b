"""The operator page (ps_server --http_port, "/") as people open it: headless
Chromium loads it from a running server with variables in nested scopes
while a worker trains, and the rendered DOM must hold the scope tree and a
histogram that match the server's own variables and values. A screenshot
is kept as a test artifact."""

import html.parser
import json
import os
import re
import subprocess
import threading
import urllib.request

import numpy as np

import paramserver as tf
from conftest import Server

CHROMIUM = "chromium-headless-shell"



class _Dom(html.parser.HTMLParser):
    """What the tests look for in the rendered page."""

    def __init__(self):
        super().__init__()
        self.scopes, self.variables, self.bars = [], [], []
        self.hidden_login = None
        self._in_detail_name = False
        self.detail_name = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "li" and "scope" in classes:
            self.scopes.append(attrs["data-name"])
        if tag == "li" and "variable" in classes:
            self.variables.append(attrs["data-name"])
        if tag == "rect" and "bar" in classes:
            self.bars.append(int(attrs["data-count"]))
        if attrs.get("id") == "loginbox":
            self.hidden_login = "hidden" in attrs
        self._in_detail_name = attrs.get("id") == "detail-name"

    def handle_data(self, data):
        if self._in_detail_name:
            self.detail_name += data

    def handle_endtag(self, tag):
        self._in_detail_name = False


def _open(url, tmp_path, screenshot=None):
    """The page's DOM after its scripts ran (Chromium's virtual time lets
    its fetches and two rounds of polling finish), parsed."""
    command = [CHROMIUM, "--no-sandbox", "--disable-gpu",
               "--user-data-dir=%s" % (tmp_path / "chromium"),
               "--window-size=1280,1000", "--virtual-time-budget=5000"]
    env = dict(os.environ, HOME=str(tmp_path))
    dump = subprocess.run(command + ["--dump-dom", url], capture_output=True,
                          text=True, timeout=120, env=env, check=False)
    assert dump.returncode == 0, dump.stderr[-3000:]
    if screenshot is not None:
        shot = subprocess.run(command + ["--screenshot=%s" % screenshot, url],
                              capture_output=True, text=True, timeout=120,
                              env=env, check=False)
        assert shot.returncode == 0, shot.stderr[-3000:]
    dom = _Dom()
    dom.feed(dump.stdout)
    return dom, dump.stdout


def _artifact_dir(tmp_path):
    return os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", str(tmp_path))


def test_the_page_shows_the_scope_tree_and_a_histogram_under_load(tmp_path):
    server = Server("--http_port=0")
    stop = threading.Event()
    worker = None
    try:
        port = server.http_port()
        tf.connect(server.address)
        with tf.variable_scope("net"):
            with tf.variable_scope("conv1"):
                weights = tf.get_variable(
                    "weights", [5, 5, 8, 16],
                    initializer=tf.truncated_normal_initializer(stddev=0.1))
                tf.get_variable("biases", [16],
                                initializer=tf.constant_initializer(0.1))
            with tf.variable_scope("conv2"):
                trained = tf.get_variable("weights", [3, 3, 16, 16])
        with tf.variable_scope("head"):
            tf.get_variable("logits", [16, 10])
        # A worker trains net/conv2 with momentum (a slot) the whole time.
        optimizer = tf.train.MomentumOptimizer(0.01, 0.9)
        gradient = np.full(trained.shape, 0.01, np.float32)

        def train():
            while not stop.is_set():
                optimizer.apply_gradients([(gradient, trained)])

        worker = threading.Thread(target=train)
        worker.start()

        screenshot = os.path.join(_artifact_dir(tmp_path),
                                  "operator_page.png")
        dom, text = _open("http://127.0.0.1:%d/#variable=net/conv1/weights" %
                          port, tmp_path, screenshot)
        stop.set()
        worker.join()

        # The tree, opened down to the chosen variable, holds exactly the
        # server's scopes and variables at each level it shows.
        assert dom.scopes == ["head", "net", "net/conv1", "net/conv2"], text
        assert dom.variables == ["net/conv1/biases", "net/conv1/weights"]
        root = json.loads(urllib.request.urlopen(
            "http://127.0.0.1:%d/api/scope?name=" % port).read())
        assert [c["name"] for c in root["children"]] == ["head", "net"]
        assert dom.detail_name == "net/conv1/weights"
        assert "Momentum" not in text  # Slots are not tree nodes.

        # The histogram: 30 equal-width buckets from the smallest value to
        # the largest, as numpy counts them from the values pulled.
        values = weights.numpy().astype(np.float64).ravel()
        expected, _ = np.histogram(values, bins=30,
                                   range=(values.min(), values.max()))
        assert len(dom.bars) == 30
        assert sum(dom.bars) == values.size == 5 * 5 * 8 * 16
        # Elements exactly on an edge may fall either side of it.
        assert np.abs(np.array(dom.bars) - expected).max() <= 1, (
            dom.bars, expected.tolist())
        # The requests table lists the worker's pushes.
        assert re.search(r'<tr data-method="Push">', text), text

        with open(screenshot, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(screenshot) > 10000
    finally:
        stop.set()
        if worker is not None:
            worker.join()
        server.stop()


def test_with_tokens_the_page_asks_for_one_and_shows_only_its_prefixes(
        tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("writer-token writer\n"
                      "tower0-reader reader tower0\n")
    server = Server("--http_port=0", "--tokens_file=%s" % tokens)
    try:
        port = server.http_port()
        tf.connect(server.address, token="writer-token")
        for tower in ("tower0", "tower1"):
            with tf.variable_scope(tower):
                tf.get_variable("w", [4])
        url = "http://127.0.0.1:%d/" % port

        dom, text = _open(url, tmp_path)
        assert dom.hidden_login is False, text  # The login form shows.
        assert dom.scopes == []

        dom, text = _open(url + "#token=tower0-reader", tmp_path)
        assert dom.hidden_login is True, text
        assert dom.scopes == ["tower0"], text
        assert "tower1" not in text
        assert "tower0-reader" not in text  # Not left in the address.
    finally:
        server.stop()
