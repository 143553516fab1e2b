"""TLS, mutual TLS and tokens from Python, against real servers with
certificates made by deploy/gen_test_certs.sh (as the C++ security test)."""

import http.client
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest

import paramserver as tf
from conftest import Server
from conftest import _server_binary
from examples_test import _losses
from examples_test import _python_example

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "..")
_TOKENS = ("# token role [prefixes]\n"
           "reader-token reader\n"
           "writer-token writer\n"
           "tower0-token writer tower0\n")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run(["/bin/bash",
                    os.path.join(_ROOT, "deploy", "gen_test_certs.sh"),
                    str(directory)], check=True, capture_output=True)
    (directory / "tokens").write_text(_TOKENS)
    return directory


def _tls_flags(certs):
    return ["--tls_cert=%s" % (certs / "server.crt"),
            "--tls_key=%s" % (certs / "server.key")]


@pytest.fixture(scope="module")
def tls_server(certs):
    """TLS (the server's certificate only), with tokens."""
    running = Server(*_tls_flags(certs),
                     "--tokens_file=%s" % (certs / "tokens"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mutual_tls_server(certs):
    running = Server(*_tls_flags(certs),
                     "--tls_client_ca=%s" % (certs / "ca.crt"))
    yield running
    running.stop()


def _client_tls(certs, client=None):
    """Trusts the test CA; presents `client`'s certificate when given."""
    if client is None:
        return tf.TlsOptions.from_files(certs / "ca.crt")
    return tf.TlsOptions.from_files(certs / "ca.crt",
                                    certs / (client + ".crt"),
                                    certs / (client + ".key"))


def _round_trip(scope):
    """Makes `scope`/v with ones, adds one on the server, reads it back."""
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
        v = tf.get_variable("v", [3], initializer=tf.ones_initializer())
    v.assign_add(np.ones(3, np.float32))
    return v.numpy()


def _get(full_name):
    """get_variable of `full_name` (AUTO_REUSE), one float."""
    with tf.variable_scope("", reuse=tf.AUTO_REUSE):
        return tf.get_variable(full_name, [1])


def test_a_tls_client_with_a_writer_token_works(tls_server, certs):
    tf.connect(tls_server.address, tls=_client_tls(certs),
               token="writer-token", timeout=10)
    np.testing.assert_array_equal(_round_trip("tls"), [2, 2, 2])


def test_plaintext_to_a_tls_server_is_unavailable(tls_server):
    tf.connect(tls_server.address, token="writer-token", timeout=10)
    with pytest.raises(tf.ServerUnavailableError) as raised:
        _get("tls/plain")
    assert raised.value.address == tls_server.address
    assert tls_server.address in str(raised.value)


def test_tls_to_a_plaintext_server_is_unavailable(server, certs):
    tf.connect(server.address, tls=_client_tls(certs), timeout=10)
    with pytest.raises(tf.ServerUnavailableError):
        _get("tls/to_plain")


def test_a_server_certificate_from_an_untrusted_ca_is_refused(tls_server,
                                                              certs):
    tf.connect(tls_server.address, token="writer-token", timeout=10,
               tls=tf.TlsOptions.from_files(certs / "other_ca.crt"))
    with pytest.raises(tf.ServerUnavailableError):
        _get("tls/untrusted")


def test_mutual_tls_needs_a_certificate_from_the_trusted_ca(
        mutual_tls_server, certs):
    tf.connect(mutual_tls_server.address, tls=_client_tls(certs, "client"),
               timeout=10)
    np.testing.assert_array_equal(_round_trip("mtls"), [2, 2, 2])
    for refused in (_client_tls(certs), _client_tls(certs, "other_client")):
        tf.connect(mutual_tls_server.address, tls=refused, timeout=10)
        with pytest.raises(tf.ServerUnavailableError):
            _get("mtls/refused")


def test_tokens_decide_what_a_tls_client_may_do(tls_server, certs):
    tls = _client_tls(certs)

    def connect_as(token):
        """Connects with `token`; returns tokens/v and tokens/outside as
        this connection sees them (made by the writer)."""
        tf.connect(tls_server.address, tls=tls, token=token, timeout=10)
        with tf.variable_scope("tokens", reuse=token != "writer-token"):
            return [tf.get_variable(name, [2],
                                    initializer=tf.zeros_initializer())
                    for name in ("v", "outside")]

    v, _ = connect_as("writer-token")
    with pytest.raises(tf.ParameterServerError) as raised:
        connect_as(None)
    assert raised.value.code.name == "UNAUTHENTICATED"
    # A variable of a closed connection says so.
    with pytest.raises(tf.ParameterServerError, match="is closed"):
        v.numpy()

    v, _ = connect_as("reader-token")
    np.testing.assert_array_equal(v.numpy(), [0, 0])
    with pytest.raises(tf.ParameterServerError) as raised:
        v.assign_add(np.ones(2, np.float32))
    assert raised.value.code.name == "PERMISSION_DENIED"
    assert "writer" in str(raised.value)
    with pytest.raises(tf.ParameterServerError) as raised:
        tf.get_variable("tokens/new", [1])
    assert raised.value.code.name == "PERMISSION_DENIED"

    # A token confined to "tower0" writes there and nowhere else.
    tf.connect(tls_server.address, tls=tls, token="tower0-token", timeout=10)
    np.testing.assert_array_equal(_round_trip("tower0"), [2, 2, 2])
    for name in ("tokens/elsewhere", "tower00/v"):
        with pytest.raises(tf.ParameterServerError) as raised:
            tf.get_variable(name, [1])
        assert raised.value.code.name == "PERMISSION_DENIED"
        assert "tower0" in str(raised.value)

    v, outside = connect_as("reader-token")
    np.testing.assert_array_equal(v.numpy(), [0, 0])
    np.testing.assert_array_equal(outside.numpy(), [0, 0])


def test_a_certificate_without_its_key_is_refused_before_connecting(certs):
    with pytest.raises(ValueError, match="needs its key"):
        tf.TlsOptions.from_files(certs / "ca.crt", certs / "client.crt")
    with pytest.raises(ValueError, match="needs its key"):
        tf.TlsOptions(private_key=b"key")


def test_the_training_worker_speaks_mutual_tls(mutual_tls_server, certs):
    run = subprocess.run(
        _python_example("train_image_filter.py",
                        "--server=" + mutual_tls_server.address,
                        "--tls_ca=%s" % (certs / "ca.crt"),
                        "--tls_cert=%s" % (certs / "client.crt"),
                        "--tls_key=%s" % (certs / "client.key"),
                        "--steps=3", "--log_every=3", "--size=16"),
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    _losses(run.stdout, 0)



def test_with_tls_the_http_port_serves_https_and_may_leave_loopback(certs):
    # Under TLS the HTTP port takes the server's certificate, so it may
    # listen beyond loopback without --insecure.
    server = Server(*_tls_flags(certs), "--tokens_file=%s" %
                    (certs / "tokens"), "--http_port=0",
                    "--http_address=0.0.0.0")
    try:
        port = server.http_port(tls=True)
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        base = "https://localhost:%d" % port
        with urllib.request.urlopen(base + "/healthz", context=context,
                                    timeout=10) as reply:
            assert reply.read() == b"ok\n"
        request = urllib.request.Request(
            base + "/api/stats",
            headers={"Authorization": "Bearer reader-token"})
        with urllib.request.urlopen(request, context=context,
                                    timeout=10) as reply:
            assert json.loads(reply.read())["state"] == "serving"
        # Plaintext to the TLS port gets no HTTP answer.
        with pytest.raises((urllib.error.URLError, http.client.HTTPException,
                            ConnectionError)):
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                   timeout=10).read()
        # Nor does a client that does not trust the server's CA.
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE"):
            urllib.request.urlopen(base + "/healthz",
                                   context=ssl.create_default_context(),
                                   timeout=10)
    finally:
        server.stop()


def test_a_remote_http_port_needs_tls_or_insecure(certs):
    plaintext = subprocess.run(
        [_server_binary(), "--port=0", "--http_port=0",
         "--http_address=0.0.0.0"], capture_output=True, text=True,
        timeout=30, check=False)
    assert plaintext.returncode == 2
    assert "HTTP is plaintext without --tls_cert" in plaintext.stderr
    # Mutual TLS guards the gRPC port with client certificates; the HTTP
    # port asks for none, so off loopback it needs tokens.
    mutual = subprocess.run(
        [_server_binary(), "--port=0", "--http_port=0",
         "--http_address=0.0.0.0", "--tls_client_ca=%s" %
         (certs / "ca.crt")] + _tls_flags(certs), capture_output=True,
        text=True, timeout=30, check=False)
    assert mutual.returncode == 2
    assert "add --tokens_file" in mutual.stderr
