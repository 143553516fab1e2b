"""TensorFlow 1.x's initializers, with its names, arguments and defaults.

They run on the server, once, when the variable is created; here they only
say which one and with what parameters (proto Initializer).
"""

import math
import numbers

import numpy as np

from paramserver import dtypes
from paramserver_pb import parameter_server_pb2 as pb


class Initializer:
    """Base class: `fill(proto)` writes the proto Initializer."""

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def fill(self, proto):
        raise NotImplementedError


def _set_seed(proto, seed):
    if seed is not None:
        proto.seed = int(seed)


class zeros_initializer(Initializer):  # pylint: disable=invalid-name
    def fill(self, proto):
        proto.kind = pb.Initializer.ZEROS


class ones_initializer(Initializer):  # pylint: disable=invalid-name
    def fill(self, proto):
        proto.kind = pb.Initializer.ONES


class constant_initializer(Initializer):  # pylint: disable=invalid-name
    """The value, flattened, the last element repeated to fill the shape."""

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        super().__init__(dtype)
        array = np.asarray(value)
        if array.dtype == object or not (
                np.issubdtype(array.dtype, np.number) or
                array.dtype == np.bool_):
            raise TypeError(
                "Invalid type for initial value: %s (expected Python scalar, "
                "list or tuple of values, or numpy.ndarray)." % type(value))
        self.value = array
        self.verify_shape = verify_shape

    def fill(self, proto):
        proto.kind = pb.Initializer.CONSTANT
        flat = self.value.reshape(-1)
        if np.issubdtype(flat.dtype, np.integer) or flat.dtype == np.bool_:
            proto.int64_values.extend(int(x) for x in flat)
        proto.values.extend(float(x) for x in flat)
        if self.verify_shape:
            proto.value_shape.dims.extend(self.value.shape)


class random_uniform_initializer(Initializer):  # pylint: disable=invalid-name
    def __init__(self, minval=0, maxval=None, seed=None,
                 dtype=dtypes.float32):
        super().__init__(dtype)
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def fill(self, proto):
        proto.kind = pb.Initializer.RANDOM_UNIFORM
        proto.minval = float(self.minval)
        if isinstance(self.minval, numbers.Integral):
            proto.int64_minval = int(self.minval)
        if self.maxval is not None:
            proto.maxval = float(self.maxval)
            if isinstance(self.maxval, numbers.Integral):
                proto.int64_maxval = int(self.maxval)
        _set_seed(proto, self.seed)


class random_normal_initializer(Initializer):  # pylint: disable=invalid-name
    _KIND = pb.Initializer.RANDOM_NORMAL

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        super().__init__(dtype)
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def fill(self, proto):
        proto.kind = self._KIND
        proto.mean = float(self.mean)
        proto.stddev = float(self.stddev)
        _set_seed(proto, self.seed)


class truncated_normal_initializer(random_normal_initializer):  # pylint: disable=invalid-name
    """Normal, values more than two stddevs from the mean drawn again."""
    _KIND = pb.Initializer.TRUNCATED_NORMAL


_MODES = {"fan_in": pb.Initializer.FAN_IN, "fan_out": pb.Initializer.FAN_OUT,
          "fan_avg": pb.Initializer.FAN_AVG}
# TF 1.x's "normal" is the truncated normal (a deprecated alias).
_DISTRIBUTIONS = {
    "normal": pb.Initializer.TRUNCATED_NORMAL_DIST,
    "truncated_normal": pb.Initializer.TRUNCATED_NORMAL_DIST,
    "untruncated_normal": pb.Initializer.UNTRUNCATED_NORMAL_DIST,
    "uniform": pb.Initializer.UNIFORM_DIST,
}


class variance_scaling_initializer(Initializer):  # pylint: disable=invalid-name
    def __init__(self, scale=1.0, mode="fan_in",
                 distribution="truncated_normal", seed=None,
                 dtype=dtypes.float32):
        super().__init__(dtype)
        if scale <= 0.:
            raise ValueError("`scale` must be positive float.")
        if mode not in _MODES:
            raise ValueError("Invalid `mode` argument:", mode)
        distribution = distribution.lower()
        if distribution not in _DISTRIBUTIONS:
            raise ValueError("Invalid `distribution` argument:", distribution)
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed = seed

    def fill(self, proto):
        proto.kind = pb.Initializer.VARIANCE_SCALING
        proto.scale = float(self.scale)
        proto.mode = _MODES[self.mode]
        proto.distribution = _DISTRIBUTIONS[self.distribution]
        _set_seed(proto, self.seed)


class glorot_uniform_initializer(Initializer):  # pylint: disable=invalid-name
    """Uniform in +-sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(dtype)
        self.seed = seed

    def fill(self, proto):
        proto.kind = pb.Initializer.GLOROT_UNIFORM
        _set_seed(proto, self.seed)


class glorot_normal_initializer(glorot_uniform_initializer):  # pylint: disable=invalid-name
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) / .8796."""

    def fill(self, proto):
        proto.kind = pb.Initializer.GLOROT_NORMAL
        _set_seed(proto, self.seed)


def glorot_uniform_limit(shape):
    """The bound glorot_uniform draws within, for tests and users alike."""
    fan_in, fan_out = _fans(shape)
    return math.sqrt(6.0 / (fan_in + fan_out))


def _fans(shape):
    # TF's _compute_fans.
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = 1
    for dim in shape[:-2]:
        receptive *= dim
    return shape[-2] * receptive, shape[-1] * receptive
