"""tf.nn.embedding_lookup_sparse from Python, pooled on the servers, and
its gradient (one row per bag) applied there: against numpy on one server,
and on a variable partitioned over three servers."""

import numpy as np
import pytest

import paramserver as tf
from sharded_test import _addresses

# Three bags over a [10, 3] table: {1, 4, 1} weighted, {} and {7, 2}.
_INDICES = [[0, 0], [0, 1], [0, 2], [2, 0], [2, 1]]
_IDS = np.array([1, 4, 1, 7, 2])
_WEIGHTS = np.array([1.0, 0.5, 2.0, 3.0, -1.0], np.float32)


def _sparse():
    return (tf.SparseTensor(_INDICES, _IDS, [3, 3]),
            tf.SparseTensor(_INDICES, _WEIGHTS, [3, 3]))


def _expected(table, combiner):
    out = np.zeros((3, table.shape[1]), np.float64)
    for bag, members in ((0, [0, 1, 2]), (2, [3, 4])):
        w = _WEIGHTS[members].astype(np.float64)
        total = (table[_IDS[members]] * w[:, None]).sum(axis=0)
        divisor = {"sum": 1.0, "mean": w.sum(),
                   "sqrtn": np.sqrt((w * w).sum())}[combiner]
        out[bag] = total / divisor
    return out


def _values():
    return np.arange(30, dtype=np.float32).reshape(10, 3) / 7


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
def test_pooled_lookups_combine_as_tensorflow(connected, combiner):
    with tf.variable_scope(connected):
        emb = tf.get_variable("emb", initializer=_values())
    sp_ids, sp_weights = _sparse()
    pooled = tf.nn.embedding_lookup_sparse(emb, sp_ids, sp_weights,
                                           combiner=combiner)
    assert pooled.shape == (3, 3)
    np.testing.assert_allclose(pooled, _expected(_values(), combiner),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pooled[1], [0, 0, 0])  # An empty bag.
    # Without weights every id counts once.
    plain = tf.nn.embedding_lookup_sparse(emb, sp_ids, None)
    np.testing.assert_allclose(plain[2], _values()[[7, 2]].mean(axis=0),
                               rtol=1e-6)


def test_a_pooled_gradient_reaches_each_id_by_its_weight(connected):
    with tf.variable_scope(connected):
        emb = tf.get_variable("emb", initializer=_values())
    sp_ids, sp_weights = _sparse()
    grad = np.array([[1, 2, 3], [9, 9, 9], [-1, 0, 1]], np.float32)
    tf.train.GradientDescentOptimizer(0.5).apply_gradients(
        [(tf.PooledGradient(grad, sp_ids, sp_weights, "sum"), emb)])
    expected = _values().astype(np.float64)
    for k, bag in enumerate([0, 0, 0, 2, 2]):
        expected[_IDS[k]] -= 0.5 * grad[bag] * _WEIGHTS[k]
    np.testing.assert_allclose(emb.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="one row per bag"):
        tf.train.GradientDescentOptimizer(0.5).apply_gradients(
            [(tf.PooledGradient(grad[:2], sp_ids, sp_weights), emb)])
    with pytest.raises(ValueError, match="ordered by row"):
        tf.nn.embedding_lookup_sparse(
            emb, tf.SparseTensor([[1, 0], [0, 0]], [1, 2], [2, 1]), None)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_pooled_over_a_partitioned_variable(cluster3, strategy):
    tf.connect(_addresses(cluster3), job="py")
    with tf.variable_scope("bags_" + strategy):
        emb = tf.get_variable("emb", initializer=_values(),
                              partitioner=tf.fixed_size_partitioner(3))
    sp_ids, sp_weights = _sparse()
    # The whole variable's row of global id i, as the strategy places it.
    offsets = np.array([0, 4, 7])  # Parts of 4, 3 and 3 rows.
    part, row = tf.rows.place_ids(np.arange(10), 10, [4, 3, 3], strategy,
                                  "e")
    table = _values()[offsets[part] + row]
    for combiner in ("mean", "sqrtn"):
        pooled = tf.nn.embedding_lookup_sparse(
            emb, sp_ids, sp_weights, partition_strategy=strategy,
            combiner=combiner)
        np.testing.assert_allclose(pooled, _expected(table, combiner),
                                   rtol=1e-5, atol=1e-6)
    grad = np.ones((3, 3), np.float32)
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(tf.PooledGradient(grad, sp_ids, sp_weights, "mean"), emb)],
        partition_strategy=strategy)
    expected = table.astype(np.float64)
    w0 = _WEIGHTS[:3].sum()
    w2 = _WEIGHTS[3:].sum()
    for k, divisor in enumerate([w0, w0, w0, w2, w2]):
        expected[_IDS[k]] -= _WEIGHTS[k] / divisor
    got = tf.nn.embedding_lookup(emb, np.arange(10),
                                 partition_strategy=strategy)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
