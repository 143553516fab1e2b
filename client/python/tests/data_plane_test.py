"""Batched conditional pulls, optimizers applied by the server, bounded
staleness and streamed values, against the real server."""

import math

import grpc
import numpy as np
import pytest

import paramserver as tf
from paramserver_pb import parameter_server_pb2 as pb


def _make(scope, name, value):
    with tf.variable_scope(scope):
        return tf.get_variable(name, initializer=np.asarray(value, np.float32))


def test_pull_sends_only_what_changed(connected, server):
    a = _make(connected, "a", [1.0, 2.0])
    b = _make(connected, "b", [3.0])
    first = tf.pull([a, b])
    np.testing.assert_array_equal(first[0], [1, 2])
    again = tf.pull([a, b])
    # Unchanged versions: nothing resent, the same arrays come back.
    assert again[0] is first[0] and again[1] is first[1]
    # Another worker (its own connection) changes b.
    other = tf.Connection(server.address)
    other.push([(b.op_name, 0, np.float32([7.0]).tobytes(), None)])
    other.close()
    third = tf.pull([a, b])
    assert third[0] is first[0]
    np.testing.assert_array_equal(third[1], [7.0])
    assert b.version == 2


def test_sgd_and_adagrad_steps_match_tensorflows_formulas(connected):
    w = _make(connected, "w", [1.0, -1.0])
    u = _make(connected, "u", [1.0, -1.0])
    g = np.float32([0.5, -2.0])
    tf.train.GradientDescentOptimizer(0.1).apply_gradients([(g, w)])
    np.testing.assert_allclose(w.numpy(), [0.95, -0.8], rtol=1e-6)
    tf.train.AdagradOptimizer(0.1).apply_gradients([(g, u)])
    expected = np.float32([1.0, -1.0]) - 0.1 * g / np.sqrt(0.1 + g * g)
    np.testing.assert_allclose(u.numpy(), expected, rtol=1e-6)
    with tf.variable_scope(connected, reuse=True):
        slot = tf.get_variable("u/Adagrad")
    np.testing.assert_allclose(slot.numpy(), 0.1 + g * g, rtol=1e-6)


def test_adam_first_step_matches_tensorflows_formula(connected):
    w = _make(connected, "w", [0.0, 0.0, 0.0])
    g = np.float32([1.0, -0.5, 2.0])
    tf.train.AdamOptimizer(0.01).apply_gradients([(g, w)])
    lr_t = 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9)
    m, v = 0.1 * g, 0.001 * g * g
    np.testing.assert_allclose(w.numpy(), -lr_t * m / (np.sqrt(v) + 1e-8),
                               rtol=1e-5)


def test_a_push_is_all_or_nothing(connected, server):
    w = _make(connected, "w", [1.0])
    ghost = _make(connected, "ghost", [1.0])
    with pytest.raises(ValueError, match="does not fit"):
        tf.train.GradientDescentOptimizer(1.0).apply_gradients(
            [(np.float32([1.0]), w), (np.float32([1.0, 2.0]), ghost)])
    # One variable deleted behind the optimizer's back: nothing applies.
    other = tf.Connection(server.address)
    other.call("DeleteVariables", pb.DeleteVariablesRequest(
        name=ghost.op_name))
    other.close()
    with pytest.raises(ValueError) as raised:
        tf.train.GradientDescentOptimizer(1.0).apply_gradients(
            [(np.float32([1.0]), w), (np.float32([1.0]), ghost)])
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    np.testing.assert_array_equal(w.numpy(), [1.0])
    assert w.version == 1
    with pytest.raises(ValueError, match="No gradients provided"):
        tf.train.GradientDescentOptimizer(1.0).apply_gradients([(None, w)])


def test_a_stale_gradient_is_refused_and_changes_nothing(connected, server):
    w = _make(connected, "w", [1.0])
    w.numpy()  # This worker computes from version 1.
    other = tf.Connection(server.address)
    for _ in range(2):
        other.push([(w.op_name, 1, np.float32([1.0]).tobytes(), None)])
    other.close()
    with pytest.raises(tf.ParameterServerError) as raised:
        tf.train.GradientDescentOptimizer(1.0).apply_gradients(
            [(np.float32([1.0]), w)], max_staleness=1)
    assert raised.value.code == grpc.StatusCode.ABORTED
    np.testing.assert_array_equal(w.numpy(), [3.0])
    # Within the bound once pulled again.
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(np.float32([1.0]), w)], max_staleness=1)
    np.testing.assert_array_equal(w.numpy(), [2.0])


def test_a_value_over_the_message_limit_streams_both_ways(connected):
    # 80 MB in two dimensions: more than the server's 64 MiB message limit.
    value = np.arange(20 << 20, dtype=np.float32).reshape(5 << 10, 4 << 10)
    with tf.variable_scope(connected):
        v = tf.get_variable("huge", value.shape,
                            initializer=tf.zeros_initializer())
    v.assign(value)
    pulled = v.numpy()
    np.testing.assert_array_equal(pulled, value)
    assert not pulled.flags.writeable  # The cached value stays as pulled.
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(np.ones(value.shape, np.float32), v)])
    np.testing.assert_array_equal(v.numpy(), value - 1)


def test_staleness_counts_from_the_version_last_pulled(connected, server):
    w = _make(connected, "w", [0.0])
    w.numpy()  # Computed from version 1.
    other = tf.Connection(server.address)
    for _ in range(3):
        other.push([(w.op_name, 1, np.float32([1.0]).tobytes(), None)])
    other.close()
    sgd = tf.train.GradientDescentOptimizer(1.0)
    with pytest.raises(tf.ParameterServerError):
        sgd.apply_gradients([(np.float32([1.0]), w)], max_staleness=1)
    w.numpy()  # Version 4 now.
    sgd.apply_gradients([(np.float32([1.0]), w)], max_staleness=1)
    # A second gradient from the same pull is one version behind: allowed;
    # a third is two behind: refused, though this worker made version 6.
    sgd.apply_gradients([(np.float32([1.0]), w)], max_staleness=1)
    with pytest.raises(tf.ParameterServerError):
        sgd.apply_gradients([(np.float32([1.0]), w)], max_staleness=1)
    np.testing.assert_array_equal(w.numpy(), [1.0])


def test_a_held_array_is_never_overwritten_by_a_later_pull(connected):
    """Streamed values land in buffers kept for reuse; one an array still
    views must not be reused."""
    from paramserver import connection  # pylint: disable=import-outside-toplevel
    shape = (3 << 18,)  # 3 MiB of float32 each way: 12 MiB, streamed.
    with tf.variable_scope(connected):
        v = tf.get_variable("v", shape, initializer=tf.zeros_initializer())
    held = []
    for step in range(6):
        v.assign(np.full(shape, step, np.float32))
        array = tf.pull([v], conditional=False)[0]
        if step % 2 == 0:
            held.append((step, array))  # Kept; odd steps' arrays dropped.
        del array
    for step, array in held:
        assert array[0] == step and array[-1] == step, step
    # Dropped arrays' buffers were reused: fewer buffers than pulls.
    buffers = [b for b in connection._RECEIVE_BUFFERS._buffers  # pylint: disable=protected-access
               if len(b) == v._nbytes()]  # pylint: disable=protected-access
    assert len(buffers) < 6


def test_pull_batches_keep_order_and_values(connected):
    # 40 variables of 1 MiB: more than one 16 MiB Pull call, sent at once.
    with tf.variable_scope(connected):
        variables = [tf.get_variable("v%d" % i, [1 << 18],
                                     initializer=tf.constant_initializer(i))
                     for i in range(40)]
    arrays = tf.pull(variables)
    for i, array in enumerate(arrays):
        assert array.shape == (1 << 18,) and array[0] == i and array[-1] == i


def test_malloc_keeps_freed_memory():
    from paramserver import memory  # pylint: disable=import-outside-toplevel
    assert memory.keep_freed_memory()
