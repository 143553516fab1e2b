"""The Python client over three servers: the C++ client's placement, the
job's expected places checked by the servers, partitioned variables made in
either language and used from the other."""

import json
import subprocess

import grpc
import numpy as np
import pytest

import paramserver as tf
from conftest import psctl_binary
from paramserver import placement
from paramserver_pb import parameter_server_pb2 as pb


def _addresses(servers):
    return [s.address for s in servers]


def _names_on(address):
    one = tf.Connection(address)
    try:
        listed = one.call("ListVariables", pb.ListVariablesRequest())
        return sorted(v.name for v in listed.variables)
    finally:
        one.close()


def _psctl(servers, *args):
    done = subprocess.run(
        [psctl_binary(), "--servers=" + ",".join(_addresses(servers))] +
        list(args), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_each_variable_lives_where_the_cpp_client_puts_it(cluster3):
    tf.connect(_addresses(cluster3), job="py")
    names = ["place/v%d" % i for i in range(12)]
    with tf.variable_scope("place"):
        for i in range(12):
            tf.get_variable("v%d" % i, [2])
    for shard, running in enumerate(cluster3):
        expected = sorted(n for n in names
                          if placement.shard_for_variable(n, 3) == shard)
        assert [n for n in _names_on(running.address)
                if n.startswith("place/")] == expected


def test_a_server_list_in_another_order_is_refused(cluster3):
    tf.connect(list(reversed(_addresses(cluster3))), job="py")
    name = next("order/v%d" % i for i in range(100)
                if placement.shard_for_variable("order/v%d" % i, 3) == 0)
    with tf.variable_scope("order"):
        with pytest.raises(tf.ParameterServerError) as raised:
            tf.get_variable(name.split("/")[1], [1])
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "shard 2 of 3" in str(raised.value)


def test_a_partitioned_variable_splits_over_consecutive_servers(cluster3):
    tf.connect(_addresses(cluster3), job="py")
    value = np.arange(40, dtype=np.float32).reshape(10, 4)
    with tf.variable_scope("split"):
        emb = tf.get_variable(
            "emb", [10, 4], partitioner=tf.fixed_size_partitioner(3),
            initializer=tf.constant_initializer(value))
        with pytest.raises(ValueError, match="already exists"):
            tf.get_variable("emb", [10, 4],
                            partitioner=tf.fixed_size_partitioner(3))
    with tf.variable_scope("split", reuse=True):
        with pytest.raises(ValueError, match="specified partitions"):
            tf.get_variable("emb", [10, 4],
                            partitioner=tf.fixed_size_partitioner(2))
    assert emb.name == "split/emb" and len(emb) == 3
    assert emb.version == 3  # The sum of three parts' versions.
    np.testing.assert_array_equal(emb.numpy(), value)
    for p in range(3):
        shard = placement.shard_for_partition("split/emb", p, 3)
        assert "split/emb/part_%d" % p in _names_on(cluster3[shard].address)
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(np.ones((10, 4), np.float32), emb)])
    np.testing.assert_array_equal(emb.numpy(), value - 1)
    assert emb.version == 6


def test_a_variable_partitioned_from_cpp_is_used_from_python_and_back(
        cluster3):
    _psctl(cluster3, "get", "--scope=cross", "--name=emb", "--shape=10,4",
           "--partitions=3", "--initializer=constant",
           "--value=" + ",".join(str(i) for i in range(40)))
    tf.connect(_addresses(cluster3), job="py")
    with tf.variable_scope("cross", reuse=True):
        emb = tf.get_variable("emb", [10, 4],
                              partitioner=tf.fixed_size_partitioner(3))
    np.testing.assert_array_equal(emb.numpy().reshape(-1), np.arange(40))
    emb.assign(np.arange(40, dtype=np.float32).reshape(10, 4) * 2)
    read = json.loads(_psctl(cluster3, "read", "cross/emb", "--values"))
    assert read["values"] == [2 * i for i in range(40)]
    assert read["version"] == 6

    # And a plain variable made by C++ reads from Python on its shard.
    _psctl(cluster3, "get", "--scope=cross", "--name=bias", "--shape=3",
           "--initializer=constant", "--value=7")
    with tf.variable_scope("cross", reuse=True):
        bias = tf.get_variable("bias", [3])
    np.testing.assert_array_equal(bias.numpy(), [7, 7, 7])


def test_partitioned_pulls_send_only_the_parts_that_changed(cluster3):
    tf.connect(_addresses(cluster3), job="py")
    with tf.variable_scope("cond", reuse=tf.AUTO_REUSE):
        emb = tf.get_variable("emb", [9, 2], initializer=tf.zeros_initializer(),
                              partitioner=tf.fixed_size_partitioner(3))
    cluster = emb._connection  # pylint: disable=protected-access
    sent = []  # Part values the servers sent.
    for shard in cluster.shards:
        def spy(items, pull=shard.pull):
            answers = pull(items)
            sent.extend(info.name for info, value in answers
                        if value is not None)
            return answers
        shard.pull = spy
    first = emb.numpy()
    assert sorted(sent) == ["cond/emb/part_%d" % p for p in range(3)]
    del sent[:]
    assert emb.numpy() is first  # Nothing changed: nothing sent.
    assert not sent
    tf.scatter_add(emb, [4], np.ones((1, 2), np.float32))  # Part 1 (mod).
    third = emb.numpy()
    assert sent == ["cond/emb/part_1"]
    expected = np.zeros((9, 2), np.float32)
    expected[3 + 1] = 1  # Part 1 starts at row 3; id 4 is its row 1.
    np.testing.assert_array_equal(third, expected)
    assert emb.version == sum(
        i.version for i in [cluster.shards[placement.shard_for_partition(
            "cond/emb", p, 3)].call("ReadVariable", pb.ReadVariableRequest(
                name="cond/emb/part_%d" % p)).variable for p in range(3)])
