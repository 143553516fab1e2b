"""TensorFlow's dtypes as the server knows them (proto DataType)."""

import numpy as np

from paramserver_pb import parameter_server_pb2 as pb


class DType:
    """A dtype: `name` as TensorFlow prints it, its numpy dtype, its enum."""

    def __init__(self, name, numpy_dtype, enum):
        self.name = name
        self.as_numpy_dtype = np.dtype(numpy_dtype)
        self.as_datatype_enum = enum

    @property
    def size(self):
        return self.as_numpy_dtype.itemsize

    def __repr__(self):
        return "tf." + self.name

    def __eq__(self, other):
        try:
            return self.as_datatype_enum == as_dtype(other).as_datatype_enum
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.as_datatype_enum)


float32 = DType("float32", np.float32, pb.DT_FLOAT)
float64 = DType("float64", np.float64, pb.DT_DOUBLE)
int32 = DType("int32", np.int32, pb.DT_INT32)
int64 = DType("int64", np.int64, pb.DT_INT64)
bool = DType("bool", np.bool_, pb.DT_BOOL)  # pylint: disable=redefined-builtin
double = float64

_ALL = (float32, float64, int32, int64, bool)
_BY_ENUM = {d.as_datatype_enum: d for d in _ALL}


def as_dtype(value):
    """tf.as_dtype: a DType from a DType, numpy dtype, type or name."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        for d in _ALL:
            if d.name == value:
                return d
        if value == "double":
            return float64
    try:
        numpy_dtype = np.dtype(value)
    except TypeError as error:
        raise TypeError("Cannot convert %r to a dtype." % (value,)) from error
    for d in _ALL:
        if d.as_numpy_dtype == numpy_dtype:
            return d
    raise TypeError(
        "Cannot convert %r to a dtype the parameter server holds "
        "(float32, float64, int32, int64, bool)." % (value,))


def from_enum(enum):
    if enum == pb.DT_INVALID:
        return float32
    if enum not in _BY_ENUM:
        raise ValueError("The server answered an unknown dtype %d." % enum)
    return _BY_ENUM[enum]
