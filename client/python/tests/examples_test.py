"""The Python examples against the real server: the seed's image filter
shared across two images, and Python and C++ workers training one filter
at once."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import paramserver as tf
from conftest import Server
from conftest import _binary

_EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "..", "..", "examples", "python")


def _python_example(name, *args):
    return [sys.executable, os.path.join(_EXAMPLES, name)] + list(args)


def _losses(output, worker):
    found = {when: float(value) for when, value in re.findall(
        r"worker %d: evaluation loss (before|after) training ([0-9.]+)" %
        worker, output)}
    assert set(found) == {"before", "after"}, output
    return found["before"], found["after"]


def test_the_image_filter_shares_one_set_of_weights(server):
    run = subprocess.run(
        _python_example("image_filter.py", "--server=" + server.address,
                        "--scope=shared_filter"),
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "its 4 variables" in run.stdout
    assert "reproduced with the shared weights: True" in run.stdout
    assert "Without reuse: ValueError: Variable shared_filter/conv1/weights " \
        "already exists, disallowed." in run.stdout


@pytest.fixture
def fresh_server():
    running = Server()
    yield running
    running.stop()


def test_a_python_and_a_cpp_worker_train_one_filter(fresh_server):
    steps = 60
    cpp = subprocess.Popen(
        [_binary("TRAIN_IMAGE_FILTER", "examples", "train_image_filter"),
         "--server=" + fresh_server.address, "--worker=0",
         "--steps=%d" % steps, "--log_every=20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    python = subprocess.run(
        _python_example("train_image_filter.py",
                        "--server=" + fresh_server.address, "--worker=1",
                        "--steps=%d" % steps, "--log_every=20"),
        capture_output=True, text=True, timeout=300, check=False)
    cpp_output, _ = cpp.communicate(timeout=300)
    assert cpp.returncode == 0, cpp_output
    assert python.returncode == 0, python.stdout + python.stderr
    cpp_before, cpp_after = _losses(cpp_output, 0)
    py_before, py_after = _losses(python.stdout, 1)
    # Both learn: the loss on each worker's evaluation batch falls.
    assert cpp_after < cpp_before and py_after < py_before, (
        cpp_output, python.stdout)
    # Every push of both workers was applied to the one set of variables.
    tf.connect(fresh_server.address)
    with tf.variable_scope("student/conv1", reuse=True):
        weights = tf.get_variable("weights")
    weights.numpy()
    assert weights.version == 1 + 2 * steps
    with tf.variable_scope("teacher/conv2", reuse=True):
        assert not tf.get_variable("weights").trainable
    assert np.isfinite(weights.numpy()).all()
