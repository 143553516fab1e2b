"""Initializers run on the server with TensorFlow 1.x's defaults: their
statistics, checked on 40,000 draws."""

import math

import numpy as np
import pytest

import paramserver as tf

SHAPE = [200, 200]


def _values(scope, name, initializer, shape=None, dtype=None):
    with tf.variable_scope(scope):
        return tf.get_variable(name, shape or SHAPE, dtype=dtype,
                               initializer=initializer).numpy()


def test_random_normal_has_its_mean_and_stddev(connected):
    x = _values(connected, "n", tf.random_normal_initializer(1.0, 2.0, seed=3))
    assert abs(x.mean() - 1.0) < 0.05
    assert abs(x.std() - 2.0) < 0.05


def test_truncated_normal_stays_within_two_stddevs(connected):
    x = _values(connected, "t", tf.truncated_normal_initializer(0.0, 0.5))
    assert np.all(np.abs(x) <= 1.0)
    # A normal cut at two sigmas has 0.88 of its sigma.
    assert abs(x.std() - 0.5 * 0.8796) < 0.01


def test_random_uniform_covers_its_range(connected):
    x = _values(connected, "u", tf.random_uniform_initializer(-2, 3))
    assert x.min() >= -2 and x.max() < 3
    assert abs(x.mean() - 0.5) < 0.05


def test_glorot_uniform_is_the_default_for_floats(connected):
    x = _values(connected, "g", None)
    limit = math.sqrt(6.0 / (SHAPE[0] + SHAPE[1]))
    assert np.all(np.abs(x) <= limit)
    assert abs(x.std() - limit / math.sqrt(3)) < 0.005


def test_integers_default_to_zeros(connected):
    x = _values(connected, "z", None, [5], tf.int32)
    assert x.dtype == np.int32
    np.testing.assert_array_equal(x, np.zeros(5))


def test_variance_scaling_checks_its_arguments_as_tensorflow():
    with pytest.raises(ValueError, match="`scale` must be positive float."):
        tf.variance_scaling_initializer(scale=0)
    with pytest.raises(ValueError, match="Invalid `mode` argument"):
        tf.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="Invalid `distribution` argument"):
        tf.variance_scaling_initializer(distribution="cauchy")


def test_variance_scaling_uniform_fan_avg_is_glorot(connected):
    x = _values(connected, "vs", tf.variance_scaling_initializer(
        1.0, "fan_avg", "uniform", seed=1))
    assert np.all(np.abs(x) <= math.sqrt(3.0 / 200))


def test_a_seed_gives_the_same_values(connected):
    a = _values(connected, "s1", tf.random_normal_initializer(seed=42))
    b = _values(connected, "s2", tf.random_normal_initializer(seed=42))
    np.testing.assert_array_equal(a, b)
