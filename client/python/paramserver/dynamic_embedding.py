"""Tables without a fixed vocabulary, as TensorFlow Recommenders-Addons'
dynamic_embedding names them, over the server's dynamic tables: rows keyed
by any int64 id, made on first touch by the table's initializer, stored
after `admit_after` sightings, evicted when idle past the TTL or, when
full, least recently used first.

    from paramserver import dynamic_embedding as de
    with tf.variable_scope("emb", reuse=tf.AUTO_REUSE):
        users = de.get_variable("users", dim=64, capacity=1000000,
                                initializer=tf.truncated_normal_initializer(
                                    stddev=0.05),
                                optimizer="adagrad")
    rows = de.embedding_lookup(users, ids)      # a lookup: counts, admits
    optimizer.apply_gradients([(tf.IndexedSlices(grad, ids), users)])

Over several servers a table is spread by id, each server holding the ids
the C++ client's IdShardOf gives it (common/table_spec.h, ported here bit
for bit), so Python and C++ workers share tables.
"""

import numpy as np

from paramserver import connection as connection_lib
from paramserver import dtypes
from paramserver import initializers
from paramserver import scopes
from paramserver import variables
from paramserver_pb import parameter_server_pb2 as pb

_MASK = (1 << 64) - 1
_OPTIMIZERS = {
    "sgd": pb.Optimizer.SGD,
    "momentum": pb.Optimizer.MOMENTUM,
    "adagrad": pb.Optimizer.ADAGRAD,
    "ftrl": pb.Optimizer.FTRL,
    "lazy_adam": pb.Optimizer.LAZY_ADAM,
}


def id_shard_of(ids, count):
    """Which of `count` servers holds each id: the high half of SplitMix64's
    finalizer of the id, modulo count (common/table_spec.h's IdShardOf)."""
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(32)) % np.uint64(count)).astype(np.int64)


class Variable:
    """A dynamic table: name, dim, and its figures from the servers. Its
    gradients are IndexedSlices of the ids looked up (apply_gradients with
    the table's optimizer)."""

    def __init__(self, status, connection):
        self._connection = connection
        self._full_name = status.name
        self._spec = status.spec
        self.created = status.created
        self._version = 0
        self._pulled_version = 0

    @property
    def name(self):
        return self._full_name

    @property
    def op_name(self):
        return self._full_name

    @property
    def dim(self):
        return int(self._spec.width)

    @property
    def dtype(self):
        return dtypes.float32

    @property
    def shape(self):
        """(capacity, dim): rows are any int64 ids; the first axis is how
        many rows the table may store."""
        return variables.TensorShape((int(self._spec.capacity), self.dim))

    @property
    def spec(self):
        """The table's spec as the server keeps it (its seed set)."""
        return self._spec

    @property
    def version(self):
        return self._version

    def _update(self, info):
        self._version = info.version

    def stats(self):
        """The table's counters (summed over the servers it is spread
        over): stored_rows, admitted, evicted_idle, evicted_capacity,
        lookup_ids, lookup_hits, dropped_gradient_rows, steps, bytes."""
        return self._connection.table_stats(self._full_name)

    def size(self):
        """Rows stored (TFRA's Variable.size())."""
        return self.stats().stored_rows

    def __repr__(self):
        return "<de.Variable '%s' dim=%d>" % (self._full_name, self.dim)


def get_variable(name, dim=1, initializer=None, capacity=None,
                 optimizer="sgd", admit_after=1, ttl_seconds=0,
                 refuse_when_full=False, initial_accumulator_value=None,
                 key_dtype=dtypes.int64, value_dtype=dtypes.float32,
                 trainable=True):
    """TFRA's dynamic_embedding.get_variable: makes or finds the table
    `<scope>/<name>` with tf.get_variable's reuse rules (the current
    variable_scope's reuse; a spec that differs from the table's is an
    error). `capacity` (required) bounds the rows stored, counted against
    the server's --max_total_bytes; `optimizer` names the one whose slots
    each row keeps and that its gradients must use."""
    del trainable
    if dtypes.as_dtype(key_dtype) != dtypes.int64:
        raise ValueError("Dynamic tables key rows by int64 ids.")
    if dtypes.as_dtype(value_dtype) != dtypes.float32:
        raise ValueError("Dynamic tables hold float32 rows.")
    if optimizer not in _OPTIMIZERS:
        raise ValueError("optimizer must be one of %s, got %r (Adam moves "
                         "every row: use lazy_adam)." %
                         (", ".join(sorted(_OPTIMIZERS)), optimizer))
    scope = scopes.get_variable_scope()
    if initializer is None:
        initializer = scope.initializer
    if isinstance(initializer, type) and issubclass(
            initializer, initializers.Initializer):
        initializer = initializer()
    request = pb.GetTableRequest(
        scope=scope.name, name=name,
        reuse=variables._reuse_mode(scope.reuse))  # pylint: disable=protected-access
    spec = request.spec
    spec.width = int(dim)
    spec.capacity = int(capacity or 0)
    spec.optimizer = _OPTIMIZERS[optimizer]
    spec.admit_after = int(admit_after)
    spec.ttl_seconds = int(ttl_seconds)
    spec.refuse_when_full = bool(refuse_when_full)
    if initial_accumulator_value is not None:
        spec.initial_accumulator_value = float(initial_accumulator_value)
    if initializer is not None:
        initializer.fill(spec.initializer)
    connection = connection_lib.default_connection()
    return Variable(connection.get_table(request), connection)


def embedding_lookup(params, ids, name=None):
    """The rows of `ids` (any int64s, any shape) as an array of shape
    ids.shape + (dim,): a lookup, which counts each id's sightings, stores
    those admitted and moves their last use."""
    del name
    array = np.asarray(ids)
    if array.dtype.kind not in "iu" and array.size > 0:
        raise TypeError("embedding_lookup: ids must be integers, got %s." %
                        array.dtype)
    flat = array.astype(np.int64, copy=False).ravel()
    _, rows = params._connection.gather_rows(  # pylint: disable=protected-access
        params.op_name, flat, "mod")
    return np.frombuffer(rows, dtype=np.float32).reshape(
        tuple(array.shape) + (params.dim,))

