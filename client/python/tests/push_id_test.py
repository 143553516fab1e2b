"""Retries apply once from Python: a push with a push_id the server already
applied is answered with the first answer and applies nothing again, on one
server and on variables partitioned over three."""

import grpc
import numpy as np
import pytest

import paramserver as tf
from paramserver import rows
from sharded_test import _addresses


def test_a_repeated_push_id_applies_once(connected):
    with tf.variable_scope(connected):
        v = tf.get_variable("v", [3], initializer=tf.zeros_initializer())
        w = tf.get_variable("w", [3], initializer=tf.zeros_initializer())
    ones = np.ones(3, np.float32)
    v.assign_add(ones, push_id=connected + "-a")
    version = v.version
    v.assign_add(ones, push_id=connected + "-a")  # A retry.
    np.testing.assert_array_equal(v.numpy(), ones)
    assert v.version == version
    # Without an id each push is its own (a random id per call).
    v.assign_add(ones)
    v.assign_add(ones)
    np.testing.assert_array_equal(v.numpy(), 3 * ones)

    sgd = tf.train.GradientDescentOptimizer(1.0)
    for _ in range(2):
        sgd.apply_gradients([(ones, v), (ones, w)], push_id=connected + "-s1")
    np.testing.assert_array_equal(w.numpy(), -ones)
    # An id names one push: another push under it is refused.
    with pytest.raises(tf.ParameterServerError) as raised:
        sgd.apply_gradients([(ones, w)], push_id=connected + "-s1")
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "was already used for a push of other variables" in str(
        raised.value)

    # A sparse gradient's push carries "<push_id>/s0".
    with tf.variable_scope(connected):
        emb = tf.get_variable("emb", [4, 2], initializer=tf.zeros_initializer())
    for _ in range(2):
        sgd.apply_gradients(
            [(tf.IndexedSlices(np.ones((1, 2), np.float32), [2]), emb)],
            push_id=connected + "-s2")
    np.testing.assert_array_equal(emb.numpy()[2], [-1, -1])


def test_retries_of_partitioned_pushes_apply_once(cluster3):
    tf.connect(_addresses(cluster3), job="py")
    with tf.variable_scope("retry", reuse=tf.AUTO_REUSE):
        emb = tf.get_variable("emb", [7, 2], initializer=tf.zeros_initializer(),
                              partitioner=tf.fixed_size_partitioner(3))
    sgd = tf.train.GradientDescentOptimizer(1.0)
    for _ in range(2):
        sgd.apply_gradients([(np.ones((7, 2), np.float32), emb)],
                            push_id="retry-dense")
    np.testing.assert_array_equal(emb.numpy(), -np.ones((7, 2)))
    for _ in range(2):
        rows.scatter_add(emb, [0, 4], np.ones((2, 2), np.float32))  # No id.
    for _ in range(2):
        sgd.apply_gradients(
            [(tf.IndexedSlices(np.ones((2, 2), np.float32), [1, 5]), emb)],
            push_id="retry-rows")
    expected = -np.ones((7, 2), np.float32)
    offsets = np.array([0, 3, 5])  # Parts of 3, 2 and 2 rows.

    def whole_row(id_):
        part, row = rows.place_ids(np.array([id_]), 7, [3, 2, 2], "mod", "e")
        return offsets[part[0]] + row[0]

    for id_ in (0, 4):
        expected[whole_row(id_)] += 2  # No id: applied twice.
    for id_ in (1, 5):
        expected[whole_row(id_)] -= 1  # Once.
    np.testing.assert_array_equal(emb.numpy(), expected)
