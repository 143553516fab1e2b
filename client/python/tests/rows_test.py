"""Row operations from Python against real servers: tf.nn.embedding_lookup,
tf.scatter_update / scatter_add and sparse (IndexedSlices) optimizer steps,
on plain variables and on variables partitioned over three servers, the
partitioned ones made from C++ and used from Python and back."""

import json

import grpc
import numpy as np
import pytest

import paramserver as tf
from paramserver import rows
from sharded_test import _addresses
from sharded_test import _psctl


def _table(scope, shape=(10, 3)):
    with tf.variable_scope(scope):
        return tf.get_variable(
            "emb", list(shape), initializer=tf.constant_initializer(
                np.arange(np.prod(shape), dtype=np.float32).tolist()))


def test_embedding_lookup_gathers_rows_in_the_ids_shape(connected):
    emb = _table(connected)
    whole = emb.numpy()
    ids = np.array([[3, 0], [9, 3]])
    looked_up = tf.nn.embedding_lookup(emb, ids)
    assert looked_up.shape == (2, 2, 3)
    np.testing.assert_array_equal(looked_up, whole[ids])
    np.testing.assert_array_equal(tf.nn.embedding_lookup(emb, []),
                                  np.zeros((0, 3), np.float32))
    assert tf.nn.embedding_lookup(emb, [], max_norm=1.0).shape == (0, 3)
    with pytest.raises(tf.VariableError) as raised:
        tf.nn.embedding_lookup(emb, [1, 10])
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "indices[1] = 10 is not in [0, 10)" in str(raised.value)
    with pytest.raises(TypeError):
        tf.nn.embedding_lookup(emb, [0.5])


def test_embedding_lookup_clips_rows_to_max_norm(connected):
    emb = _table(connected)
    clipped = tf.nn.embedding_lookup(emb, [0, 5], max_norm=2.0)
    whole = emb.numpy()
    for row, id_ in zip(clipped, [0, 5]):
        norm = np.linalg.norm(whole[id_])
        expected = whole[id_] * 2.0 / max(norm, 2.0)
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_scatter_update_and_add_write_only_the_named_rows(connected):
    emb = _table(connected)
    expected = emb.numpy().copy()
    version = emb.version
    tf.scatter_update(emb, [4, 1, 4], np.full((3, 3), 0, np.float32) +
                      np.array([[1], [2], [3]], np.float32))
    expected[1] = 2
    expected[4] = 3  # A repeated index: its last row wins.
    np.testing.assert_array_equal(emb.numpy(), expected)
    assert emb.version == version + 1
    tf.scatter_add(emb, [7, 7, 0], np.ones((3, 3), np.float32))
    expected[7] += 2  # Repeats add up.
    expected[0] += 1
    np.testing.assert_array_equal(emb.numpy(), expected)
    with pytest.raises(ValueError, match="do not fit 2 ids"):
        tf.scatter_add(emb, [1, 2], np.ones((3, 3), np.float32))


def test_sparse_gradients_step_only_their_rows(connected):
    emb = _table(connected)
    start = emb.numpy().copy()
    grad = np.array([[1, 2, 3], [4, 5, 6], [1, 1, 1]], np.float32)
    ids = np.array([2, 5, 2])
    tf.train.GradientDescentOptimizer(0.5).apply_gradients(
        [(tf.IndexedSlices(grad, ids), emb)])
    expected = start.copy()
    np.subtract.at(expected, ids, 0.5 * grad)  # Every occurrence counts.
    np.testing.assert_allclose(emb.numpy(), expected, rtol=1e-6)

    # Adagrad sums repeated ids first, then steps those rows and their
    # accumulator slot (made at initial_accumulator_value 0.1) only.
    before = emb.numpy().copy()
    tf.train.AdagradOptimizer(0.1).apply_gradients(
        [(tf.IndexedSlices(grad, ids), emb)])
    summed = np.zeros_like(before)
    np.add.at(summed, ids, grad)
    accumulator = 0.1 + summed * summed
    after = before - 0.1 * summed / np.sqrt(accumulator)
    touched = [2, 5]
    np.testing.assert_allclose(emb.numpy()[touched], after[touched],
                               rtol=1e-5)
    untouched = [i for i in range(10) if i not in touched]
    np.testing.assert_array_equal(emb.numpy()[untouched], before[untouched])


def test_sparse_and_dense_gradients_in_one_call(connected):
    emb = _table(connected)
    with tf.variable_scope(connected):
        bias = tf.get_variable("bias", [3], initializer=tf.zeros_initializer())
    start = emb.numpy().copy()
    tf.train.GradientDescentOptimizer(1.0).apply_gradients([
        (tf.IndexedSlices(np.ones((1, 3), np.float32), [6]), emb),
        (np.ones(3, np.float32), bias)])
    np.testing.assert_array_equal(bias.numpy(), [-1, -1, -1])
    start[6] -= 1
    np.testing.assert_array_equal(emb.numpy(), start)


def test_lookups_set_the_base_version_of_sparse_gradients(connected):
    emb = _table(connected)
    sgd = tf.train.GradientDescentOptimizer(0.1)
    # One worker alone: each step's rows are current, however many steps.
    for _ in range(6):
        rows_now = tf.nn.embedding_lookup(emb, [1, 2])
        sgd.apply_gradients([(tf.IndexedSlices(rows_now, [1, 2]), emb)],
                            max_staleness=2)
    # Rows read before three other updates are too stale.
    tf.nn.embedding_lookup(emb, [1])
    for _ in range(3):
        tf.scatter_add(emb, [0], np.ones((1, 3), np.float32))
    with pytest.raises(tf.ParameterServerError) as raised:
        sgd.apply_gradients(
            [(tf.IndexedSlices(np.ones((1, 3), np.float32), [1]), emb)],
            max_staleness=2)
    assert raised.value.code == grpc.StatusCode.ABORTED


def test_a_refused_gradient_applies_nothing_of_its_call(connected):
    emb = _table(connected)
    with tf.variable_scope(connected):
        bias = tf.get_variable("bias", [3], initializer=tf.zeros_initializer())
    with pytest.raises(ValueError, match="do not fit 2 indices"):
        tf.train.GradientDescentOptimizer(1.0).apply_gradients([
            (np.ones(3, np.float32), bias),
            (tf.IndexedSlices(np.ones((1, 3), np.float32), [1, 2]), emb)])
    np.testing.assert_array_equal(bias.numpy(), [0, 0, 0])


def test_place_ids_as_tensorflow_assigns_them():
    # 11 rows in 3 parts of 4, 4 and 3 rows (the C++ test's case).
    ids = np.arange(11)
    part, row = rows.place_ids(ids, 11, [4, 4, 3], "mod", "t")
    assert list(zip(part, row)) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1),
                                    (2, 1), (0, 2), (1, 2), (2, 2), (0, 3),
                                    (1, 3)]
    part, row = rows.place_ids(ids, 11, [4, 4, 3], "div", "t")
    assert list(zip(part, row)) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0),
                                    (1, 1), (1, 2), (1, 3), (2, 0), (2, 1),
                                    (2, 2)]
    with pytest.raises(tf.VariableError,
                       match=r"indices\[1\] = 11 is not in \[0, 11\)"):
        rows.place_ids(np.array([3, 11]), 11, [4, 4, 3], "div", "t")
    with pytest.raises(ValueError, match="Unrecognized partition strategy"):
        rows.place_ids(ids, 11, [4, 4, 3], "random", "t")


def test_rows_of_a_variable_partitioned_from_cpp(cluster3):
    # 11 rows of 2 in 3 parts (4, 4, 3 rows), made by the C++ client with
    # values 0..21: the concatenated parts hold row r at [2r, 2r + 1].
    _psctl(cluster3, "get", "--scope=rows", "--name=emb", "--shape=11,2",
           "--partitions=3", "--initializer=constant",
           "--value=" + ",".join(str(i) for i in range(22)))
    tf.connect(_addresses(cluster3), job="py")
    with tf.variable_scope("rows", reuse=True):
        emb = tf.get_variable("emb", [11, 2],
                              partitioner=tf.fixed_size_partitioner(3))
    whole = np.arange(22, dtype=np.float32).reshape(11, 2)
    offsets = np.array([0, 4, 8])
    ids = np.array([10, 0, 5, 5, 3])
    part, row = rows.place_ids(ids, 11, [4, 4, 3], "mod", "rows/emb")
    np.testing.assert_array_equal(tf.nn.embedding_lookup(emb, ids),
                                  whole[offsets[part] + row])
    # "div" places ids contiguously: id i is row i of the whole.
    np.testing.assert_array_equal(
        tf.nn.embedding_lookup(emb, ids, partition_strategy="div"),
        whole[ids])

    # Written from Python by global id ("mod"), read back from C++.
    version = emb.version
    tf.scatter_add(emb, [10, 1], np.full((2, 2), 100, np.float32))
    # Ids 10 and 1 are both on part 1 (mod 3): the other parts are pushed
    # nothing, which leaves their versions.
    assert emb.version == version + 1
    read = json.loads(_psctl(cluster3, "read", "rows/emb", "--values"))
    expected = whole.copy()
    for id_ in (10, 1):
        p, r = id_ % 3, id_ // 3
        expected[offsets[p] + r] += 100
    assert read["values"] == expected.ravel().tolist()

    # A sparse step on a partitioned variable: global ids placed as
    # embedding_lookup's default ("mod") places them, id 9 on part 0.
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(tf.IndexedSlices(np.ones((1, 2), np.float32), [9]), emb)])
    expected[offsets[0] + 3] -= 1
    np.testing.assert_array_equal(emb.numpy(), expected)
    # And by "div", as a lookup by "div" read them: id 9 is row 9.
    tf.train.GradientDescentOptimizer(1.0).apply_gradients(
        [(tf.IndexedSlices(np.ones((1, 2), np.float32), [9]), emb)],
        partition_strategy="div")
    expected[9] -= 1
    np.testing.assert_array_equal(emb.numpy(), expected)
    with pytest.raises(ValueError, match="is partitioned"):
        tf.train.GradientDescentOptimizer(1.0).apply_gradients(
            [(tf.IndexedSlices(np.ones((1, 2), np.float32), [9]), emb)],
            max_staleness=1)
