"""TensorFlow 1.x's variable_scope and get_variable semantics, against the
real server (the cases of TF's variable_scope_test.py that apply)."""

import threading

import grpc
import numpy as np
import pytest

import paramserver as tf


def test_the_seed_example_shares_one_variable(connected):
    with tf.variable_scope(connected):
        with tf.variable_scope("foo"):
            v = tf.get_variable("v", [1])
            tf.get_variable_scope().reuse_variables()
            v1 = tf.get_variable("v", [1])
    assert v1.name == v.name == connected + "/foo/v:0"
    assert v.shape == [1]
    assert v.dtype == tf.float32
    assert v.version == v1.version == 1


def test_creating_twice_is_tensorflows_value_error(connected):
    with tf.variable_scope(connected):
        tf.get_variable("v", [1])
        with pytest.raises(ValueError) as raised:
            tf.get_variable("v", [1])
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert str(raised.value).startswith(
        "Variable %s/v already exists, disallowed. Did you mean to set "
        "reuse=True or reuse=tf.AUTO_REUSE in VarScope?" % connected)


def test_reusing_a_missing_variable_is_tensorflows_value_error(connected):
    with tf.variable_scope(connected, reuse=True):
        with pytest.raises(ValueError) as raised:
            tf.get_variable("missing", [1])
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert "Variable %s/missing does not exist, or was not created with " \
        "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in " \
        "VarScope?" % connected in str(raised.value)


def test_reusing_with_another_shape_is_a_value_error(connected):
    with tf.variable_scope(connected):
        tf.get_variable("v", [1])
    with tf.variable_scope(connected, reuse=True):
        with pytest.raises(ValueError) as raised:
            tf.get_variable("v", [2])
    assert "Trying to share variable %s/v, but specified shape (2,) and " \
        "found shape (1,)." % connected in str(raised.value)


def test_auto_reuse_creates_then_reuses(connected):
    with tf.variable_scope(connected, reuse=tf.AUTO_REUSE):
        first = tf.get_variable("v", [3], initializer=tf.ones_initializer())
        second = tf.get_variable("v", [3])
    assert first.name == second.name
    np.testing.assert_array_equal(second.numpy(), np.ones(3, np.float32))


def test_reuse_is_inherited_and_never_undone(connected):
    with tf.variable_scope(connected):
        tf.get_variable("w", [1])
    with tf.variable_scope(connected, reuse=True):
        with tf.variable_scope("inner", reuse=False) as inner:
            assert inner.reuse is True
        assert tf.get_variable("w", [1]).name == connected + "/w:0"
    with pytest.raises(ValueError, match="reuse=True cannot be used "
                       "without a name_or_scope"):
        with tf.variable_scope(None, default_name="x", reuse=True):
            pass
    with pytest.raises(TypeError, match="If default_name is None then "
                       "name_or_scope is required"):
        tf.variable_scope(None)


def test_default_names_are_made_unique_and_forgotten_on_exit(connected):
    with tf.variable_scope(connected):
        names = []
        for _ in range(3):
            with tf.variable_scope(None, default_name="layer") as scope:
                names.append(scope.name)
        assert names == [connected + "/layer", connected + "/layer_1",
                         connected + "/layer_2"]
    with tf.variable_scope(connected):
        with tf.variable_scope(None, default_name="layer") as again:
            assert again.name == connected + "/layer"


def test_reentering_a_scope_object_keeps_its_absolute_name(connected):
    with tf.variable_scope(connected):
        with tf.variable_scope("tower") as tower:
            v = tf.get_variable("v", [1])
        with tf.variable_scope("other"):
            with tf.variable_scope(tower, reuse=True) as back:
                assert back.name == connected + "/tower"
                assert tf.get_variable("v", [1]).name == v.name


def test_scope_defaults_for_initializer_and_dtype(connected):
    with tf.variable_scope(connected,
                           initializer=tf.constant_initializer(0.25),
                           dtype=tf.float64):
        v = tf.get_variable("v", [2, 2])
        with tf.variable_scope("int", dtype=tf.int64):
            w = tf.get_variable("w", [2], initializer=tf.constant_initializer(
                [1 << 60, 3]))
    assert v.dtype == tf.float64
    np.testing.assert_array_equal(v.numpy(), np.full((2, 2), 0.25))
    assert w.dtype == tf.int64
    np.testing.assert_array_equal(w.numpy(), [1 << 60, 3])


def test_a_numpy_initializer_gives_the_shape(connected):
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.variable_scope(connected):
        v = tf.get_variable("c", initializer=value)
        with pytest.raises(ValueError, match="do not specify shape"):
            tf.get_variable("d", [2, 3], initializer=value)
    assert v.shape == (2, 3)
    np.testing.assert_array_equal(v.numpy(), value)


def test_values_and_classes_as_initializers_convert_as_tensorflow(
        connected):
    with tf.variable_scope(connected):
        ints = tf.get_variable("ints", initializer=[1, 2, 3])
        floats = tf.get_variable("floats", initializer=[0.5, 1.5])
        doubles = tf.get_variable("doubles", initializer=np.float64([0.25]))
        zeros = tf.get_variable("zeros", [2], initializer=tf.zeros_initializer)
        with pytest.raises(ValueError, match="don't match"):
            tf.get_variable("clash", dtype=tf.int64,
                            initializer=np.float32([1]))
    assert ints.dtype == tf.int32 and floats.dtype == tf.float32
    assert doubles.dtype == tf.float64
    np.testing.assert_array_equal(zeros.numpy(), [0, 0])


def test_assign_and_assign_add_move_the_version(connected):
    with tf.variable_scope(connected):
        v = tf.get_variable("v", [4], initializer=tf.zeros_initializer())
    v.assign([1, 2, 3, 4])
    assert v.version == 2
    v.assign_add(np.full(4, 0.5))
    assert v.version == 3
    np.testing.assert_array_equal(v.numpy(), [1.5, 2.5, 3.5, 4.5])
    with pytest.raises(ValueError, match="incompatible"):
        v.assign([1, 2])


def test_a_large_variable_round_trips_in_chunks(connected):
    # 16 MB: larger than one inline Pull answer, so it streams.
    value = np.random.default_rng(7).standard_normal((1024, 4096)).astype(
        np.float32)
    with tf.variable_scope(connected):
        v = tf.get_variable("big", [1024, 4096],
                            initializer=tf.zeros_initializer())
    v.assign(value)
    np.testing.assert_array_equal(v.numpy(), value)


def test_threads_have_their_own_scopes(connected):
    seen = {}

    def worker(tag):
        with tf.variable_scope(connected + "/" + tag):
            seen[tag] = tf.get_variable("v", [1]).name

    threads = [threading.Thread(target=worker, args=(t,)) for t in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": connected + "/a/v:0", "b": connected + "/b/v:0"}
    assert tf.get_variable_scope().name == ""


def test_improper_nesting_is_a_runtime_error(connected):
    outer = tf.variable_scope(connected)
    inner = tf.variable_scope("inner")
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="Improper nesting"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)


def test_a_dead_server_is_a_connection_error_naming_it():
    tf.connect("127.0.0.1:1", timeout=5)
    with pytest.raises(ConnectionError) as raised:
        tf.get_variable("v", [1])
    assert "127.0.0.1:1" in str(raised.value)
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
