"""Dynamic tables from Python (TFRA's dynamic_embedding names) against real
servers: get_variable's reuse rules, lookups that admit ids, sparse steps
on stored rows, and a table spread over three servers by the C++ client's
id placement, read back with psctl."""

import json

import numpy as np
import pytest

import paramserver as tf
from paramserver import dynamic_embedding as de
from paramserver_pb import parameter_server_pb2 as pb
from sharded_test import _addresses
from sharded_test import _psctl


def _users(scope, reuse=None, dim=4, admit_after=1, capacity=1000):
    with tf.variable_scope(scope, reuse=reuse):
        return de.get_variable(
            "users", dim=dim, capacity=capacity, admit_after=admit_after,
            initializer=tf.random_uniform_initializer(-1, 1, seed=7))


def test_get_variable_follows_the_reuse_rules(connected):
    users = _users(connected)
    assert users.created and users.name == connected + "/users"
    assert users.dim == 4 and users.spec.initializer.seed == 7
    again = _users(connected, reuse=True)
    assert not again.created
    with pytest.raises(tf.VariableError, match="already exists"):
        _users(connected)
    with pytest.raises(tf.VariableError, match="Trying to share dynamic table"):
        _users(connected, reuse=tf.AUTO_REUSE, dim=8)
    with pytest.raises(tf.VariableError, match="does not exist"):
        _users(connected + "_none", reuse=True)
    with pytest.raises(ValueError, match="lazy_adam"):
        de.get_variable("x", dim=2, capacity=10, optimizer="adam")


def test_lookups_admit_ids_and_sparse_steps_move_stored_rows(connected):
    users = _users(connected, admit_after=2)
    ids = np.array([[1 << 50, -42], [7, -42]])
    first = de.embedding_lookup(users, ids)
    assert first.shape == (2, 2, 4)
    # The same id gets the same row; -42 was seen twice in that call.
    np.testing.assert_array_equal(first[0, 1], first[1, 1])
    assert users.size() == 1
    second = de.embedding_lookup(users, [7, 1 << 50])
    np.testing.assert_array_equal(second[0], first[1, 0])
    assert users.size() == 3
    stats = users.stats()
    assert (stats.admitted, stats.lookup_ids) == (3, 6)

    # SGD on stored rows; an id never seen is dropped, and counted.
    grad = np.ones((2, 4), np.float32)
    tf.train.GradientDescentOptimizer(0.5).apply_gradients(
        [(tf.IndexedSlices(grad, [7, 99]), users)])
    stepped = de.embedding_lookup(users, [7])
    np.testing.assert_allclose(stepped[0], first[1, 0] - 0.5, rtol=1e-6)
    assert users.stats().dropped_gradient_rows == 1
    assert users.size() == 3


def test_a_table_spread_over_three_servers_as_cpp_spreads_it(cluster3):
    tf.connect(_addresses(cluster3), job="py")
    users = _users("spread")
    assert users.shape == (1002, 4)  # Each slice holds ceil(1000 / 3).
    ids = np.arange(-30, 30) * 1000003
    rows = de.embedding_lookup(users, ids)
    assert users.size() == 60
    # Each server holds exactly the ids the C++ client's IdShardOf gives
    # it.
    owner = de.id_shard_of(ids, 3)
    for shard, running in enumerate(cluster3):
        one = tf.Connection(running.address)
        try:
            stats = one.call("GetTableStats",
                             pb.TableStatsRequest(name="spread/users"))
        finally:
            one.close()
        assert stats.spec.id_shard_count == 3
        assert stats.spec.id_shard_index == shard
        assert stats.stats.stored_rows == np.count_nonzero(owner == shard)
    # C++ reads the same rows (a peek) and the same counters.
    some = ids[[0, 17, 59]]
    peeked = json.loads(_psctl(cluster3, "rows", "spread/users", "--ids=" +
                               ",".join(str(i) for i in some)))
    np.testing.assert_allclose(np.array(peeked["rows"], np.float32),
                               rows[[0, 17, 59]], rtol=1e-6)
    table = json.loads(_psctl(cluster3, "table", "spread/users"))
    assert table["stored_rows"] == 60 and table["id_shards"] == 3
    # A sparse step from Python lands on the right slices.
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(tf.IndexedSlices(np.ones((3, 4), np.float32), some), users)])
    np.testing.assert_allclose(de.embedding_lookup(users, some),
                               rows[[0, 17, 59]] - 1, rtol=1e-6)
