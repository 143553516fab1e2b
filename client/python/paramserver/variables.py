"""tf.compat.v1.get_variable over the server, and the variables it returns."""

import threading

import numpy as np

from paramserver import connection as connection_lib
from paramserver import dtypes
from paramserver import initializers
from paramserver import scopes
from paramserver_pb import parameter_server_pb2 as pb


class TensorShape(tuple):
    """A static shape; equal to the list or tuple of its dimensions."""

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    def __eq__(self, other):
        if isinstance(other, (list, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return tuple.__hash__(self)


class Variable:
    """A server variable: its full name, shape, dtype and last seen version.

    numpy() pulls the value; assign() and assign_add() push. Every call goes
    to the server: another worker's updates show on the next numpy().
    """

    def __init__(self, info, connection):
        self._connection = connection
        self._lock = threading.Lock()
        self._value = None  # The array last pulled, at _value_version.
        self._value_version = 0
        self._update(info)
        # The version of the value the caller last saw (pulled, or made):
        # what bounded staleness compares a gradient's base with.
        self._pulled_version = info.version

    # After a push, whether to keep the array last pulled (at its own older
    # version) for the next pull to send as known. Only a partitioned
    # variable gains (its unchanged parts are not sent again); others drop
    # it, so that a pull-push loop holds one copy of the model, not two.
    _KEEP_STALE_VALUE = False

    def _update(self, info, value=None):
        """Takes the server's `info` and, with it, the array of that version
        (None: no array of it here), as one change."""
        with self._lock:
            self._full_name = info.name
            self._shape = TensorShape(info.shape.dims)
            self._dtype = dtypes.from_enum(info.dtype)
            self._version = info.version
            self._trainable = info.trainable
            if value is not None:
                self._value = value
                self._value_version = info.version
                self._pulled_version = info.version
            elif not self._KEEP_STALE_VALUE:
                self._value = None

    def _nbytes(self):
        return int(np.prod(self._shape, dtype=np.int64)) * self._dtype.size

    def _known(self):
        """(version to send as known, its array or None), as one read."""
        with self._lock:
            if self._value is None:
                return 0, None
            return self._value_version, self._value

    @property
    def name(self):
        """As TensorFlow prints it: "scope/name:0"."""
        return self._full_name + ":0"

    @property
    def op_name(self):
        """The full name without ":0", as the server knows it."""
        return self._full_name

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @property
    def version(self):
        """The version last pulled or pushed here (1 at creation)."""
        return self._version

    def numpy(self):
        """The current value, pulled, as a read-only array over the bytes
        received (.copy() it to change it)."""
        return pull([self])[0]

    def _array(self, info, value):
        array = np.frombuffer(value, dtype=dtypes.from_enum(
            info.dtype).as_numpy_dtype).reshape(info.shape.dims)
        array.flags.writeable = False
        return array

    def read_value(self):
        return self.numpy()

    def _push(self, kind, value, push_id=None):
        array = np.ascontiguousarray(value, dtype=self._dtype.as_numpy_dtype)
        if array.size != int(np.prod(self._shape, dtype=np.int64)):
            raise ValueError(
                "Shapes %s and %s are incompatible" %
                (tuple(self._shape), array.shape))
        [info] = self._connection.push(
            [(self._full_name, kind, array.data, None)], push_id=push_id)
        self._update(info)  # Its value is pulled again next time.
        return self

    def assign(self, value, push_id=None):
        """variable = value, on the server. `push_id`: as
        Optimizer.apply_gradients' (a retry with it applies once)."""
        return self._push(pb.Update.ASSIGN, value, push_id)

    def assign_add(self, delta, push_id=None):
        """variable += delta, on the server, once per `push_id`."""
        return self._push(pb.Update.ASSIGN_ADD, delta, push_id)

    def __repr__(self):
        return "<tf.Variable '%s' shape=%s dtype=%s>" % (
            self.name, tuple(self._shape), self._dtype.name)


def pull(variables, conditional=True):
    """The current values of `variables` (of one connection), in one call.

    Each variable is pulled conditionally: one whose version has not moved
    since this process last pulled it is not sent again, and its last array
    is returned. With conditional=False every value is sent. Arrays are
    read-only views over the received bytes.
    """
    if not variables:
        return []
    connection = variables[0]._connection  # pylint: disable=protected-access
    items, held = [], []
    for v in variables:
        # pylint: disable=protected-access
        if v._connection is not connection:
            raise ValueError("pull: the variables come from different "
                             "connections.")
        known, array = v._known() if conditional else (0, None)
        # The array goes along: a partitioned variable's unchanged parts
        # are taken from it.
        items.append((v._full_name, known, v._nbytes(), array))
        held.append(array)
    pulled = connection.pull(items)
    arrays = []
    for v, array, (info, value) in zip(variables, held, pulled):
        # pylint: disable=protected-access
        if value is not None:
            array = v._array(info, value)
            v._update(info, array)
        else:
            with v._lock:
                v._pulled_version = info.version
        arrays.append(array)
    return arrays


_REUSE = {False: pb.CREATE, None: pb.CREATE, True: pb.REUSE}


def _reuse_mode(reuse):
    if reuse is scopes.AUTO_REUSE:
        return pb.AUTO_REUSE
    return _REUSE[reuse]


def get_variable(name, shape=None, dtype=None, initializer=None,
                 regularizer=None, trainable=None, collections=None,
                 caching_device=None, partitioner=None, validate_shape=True,
                 use_resource=None, custom_getter=None, constraint=None,
                 synchronization=None, aggregation=None):
    """tf.get_variable: creates or reuses `<scope>/<name>` on the server.

    Reuse, and unset dtype and initializer, come from the current
    variable_scope. `initializer` is one of this package's initializers, or
    a value (numpy array, list, scalar), which gives the shape as a Tensor
    does in TensorFlow. Reuse and shape errors are ValueErrors with
    TensorFlow's texts, raised by the server's rules.
    """
    del regularizer, collections, caching_device, validate_shape
    del use_resource, custom_getter, constraint, synchronization, aggregation
    scope = scopes.get_variable_scope()
    if partitioner is None:
        partitioner = scope.partitioner
    if initializer is None:
        initializer = scope.initializer
    request = pb.GetVariableRequest(scope=scope.name, name=name,
                                    reuse=_reuse_mode(scope.reuse),
                                    trainable=True if trainable is None
                                    else bool(trainable))
    if isinstance(initializer, type) and issubclass(
            initializer, initializers.Initializer):
        initializer = initializer()  # TF instantiates an initializer class.
    if initializer is not None and not isinstance(
            initializer, initializers.Initializer):
        if callable(initializer):
            raise TypeError(
                "Initializer %r is not one of paramserver's initializers; "
                "they run on the server." % (initializer,))
        # A value: the variable's shape and (unless given) dtype are its.
        if shape is not None:
            raise ValueError(
                "If initializer is a constant, do not specify shape.")
        value = np.asarray(initializer)
        if not isinstance(initializer, (np.ndarray, np.generic)):
            # Python numbers convert as TensorFlow converts them.
            if value.dtype == np.float64:
                value = value.astype(np.float32)
            elif value.dtype == np.int64:
                value = value.astype(np.int32)
        if dtype is None:
            dtype = dtypes.as_dtype(value.dtype)
        elif dtypes.as_dtype(dtype) != dtypes.as_dtype(value.dtype):
            raise ValueError(
                "Initializer type '%s' and explicit dtype '%s' don't match." %
                (dtypes.as_dtype(value.dtype).name,
                 dtypes.as_dtype(dtype).name))
        shape = value.shape
        initializer = initializers.constant_initializer(value,
                                                        verify_shape=True)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else scope.dtype
    request.dtype = dtype.as_datatype_enum
    if shape is not None:
        request.shape.dims.extend(int(d) for d in shape)
        request.shape.SetInParent()
    if initializer is not None:
        initializer.fill(request.initializer)
    connection = connection_lib.default_connection()
    if partitioner is None:
        return Variable(connection.get_variable(request), connection)
    if shape is None:
        raise ValueError("Partitioned variable %s needs a shape." %
                         scopes.join_scope(scope.name, name))
    partitions = list(partitioner(shape=TensorShape(shape), dtype=dtype))
    if len(partitions) != len(shape) or any(p != 1 for p in partitions[1:]):
        raise ValueError(
            "%s: only partitions along the first axis are supported, got %s."
            % (scopes.join_scope(scope.name, name), partitions))
    info, parts = connection.get_partitioned_variable(request,
                                                      int(partitions[0]))
    return PartitionedVariable(info, connection, parts)



class PartitionedVariable(Variable):
    """A variable split along its first axis over "<name>/part_i" (on
    consecutive servers). Read and written whole; its version is the sum of
    its parts'. As TensorFlow's, its name has no ":0"."""

    _KEEP_STALE_VALUE = True

    def __init__(self, info, connection, num_partitions):
        super().__init__(info, connection)
        self._num_partitions = num_partitions

    @property
    def name(self):
        return self._full_name

    def __len__(self):
        return self._num_partitions


def fixed_size_partitioner(num_shards, axis=0):
    """tf.fixed_size_partitioner: `num_shards` parts along `axis` (only 0
    here), fewer when the axis is shorter."""
    if not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError("num_shards must be a positive integer, got %r" %
                         (num_shards,))

    def _partitioner(shape, dtype):
        del dtype
        partitions = [1] * len(shape)
        partitions[axis] = min(num_shards, shape[axis])
        return partitions

    return _partitioner
