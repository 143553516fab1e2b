"""A 1 GiB variable (the server's default --max_variable_bytes) round-trips
through chunked streaming. Run alone (client/python:python_large_value_test,
not under the sanitizers, whose shadow memory would multiply it)."""

import numpy as np
import pytest

import paramserver as tf

pytestmark = pytest.mark.large_memory


def test_a_one_gib_variable_round_trips(connected):
    elements = 1 << 28  # 1 GiB of float32.
    with tf.variable_scope(connected):
        v = tf.get_variable("gib", [elements],
                            initializer=tf.zeros_initializer())
    value = np.arange(elements, dtype=np.float32)
    v.assign(value)
    pulled = v.numpy()
    assert pulled.nbytes == 1 << 30
    assert np.array_equal(pulled, value)
    del pulled
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(np.zeros(elements, np.float32), v)])
    assert v.version == 3
    again = v.numpy()
    assert np.array_equal(again, value)
