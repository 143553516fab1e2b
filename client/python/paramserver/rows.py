"""Row operations on server variables, as TensorFlow 1.x names them:
tf.nn.embedding_lookup gathers rows on the servers, tf.scatter_update and
tf.scatter_add write rows, and a tf.IndexedSlices gradient steps only the
rows it names (the server's sparse optimizers). A partitioned variable's ids
go to its parts as TensorFlow's partition strategies place them, exactly as
the C++ client places them (client/partitioning.cc), so a table
partitioned from C++ is read and written from Python and back.
"""

import grpc
import numpy as np

from paramserver import errors
from paramserver import variables
from paramserver_pb import parameter_server_pb2 as pb

_STRATEGIES = ("mod", "div")


class IndexedSlices:
    """tf.IndexedSlices: rows `values` for the first-axis `indices`, as a
    gradient (optimizer.apply_gradients steps only those rows)."""

    def __init__(self, values, indices, dense_shape=None):
        self.values = np.asarray(values)
        self.indices = np.asarray(indices)
        self.dense_shape = dense_shape

    def __repr__(self):
        return "IndexedSlices(indices=%r, values=%r)" % (self.indices,
                                                          self.values)


def _ids(ids, name):
    """`ids` as a flat int64 array, and the shape they came in."""
    array = np.asarray(ids)
    if array.dtype.kind not in "iu" and array.size > 0:
        raise TypeError("%s: ids must be integers, got %s." %
                        (name, array.dtype))
    return array.astype(np.int64, copy=False).ravel(), array.shape


def place_ids(ids, dim0, num_parts_rows, strategy, full_name):
    """(part, row) of each id of a variable of `dim0` rows split into parts
    of `num_parts_rows` rows, as TensorFlow's embedding_ops assigns them:
    "mod" (its default) part id % p, row id // p; "div" contiguous, the
    first dim0 % p parts one row longer."""
    if strategy not in _STRATEGIES:
        raise ValueError("Unrecognized partition strategy: %s" % strategy)
    parts = len(num_parts_rows)
    ids_per_part, extras = dim0 // parts, dim0 % parts
    long_ids = extras * (ids_per_part + 1)
    bad = np.flatnonzero((ids < 0) | (ids >= dim0))
    if bad.size:
        i = int(bad[0])
        raise errors.VariableError(
            "indices[%d] = %d is not in [0, %d): %s has %d rows." %
            (i, ids[i], dim0, full_name, dim0),
            grpc.StatusCode.INVALID_ARGUMENT)
    if strategy == "mod":
        part, row = ids % parts, ids // parts
    else:
        long = ids < long_ids
        part = np.where(long, ids // (ids_per_part + 1),
                        extras + (ids - long_ids) // max(ids_per_part, 1))
        row = np.where(long, ids % (ids_per_part + 1),
                       (ids - long_ids) % max(ids_per_part, 1))
    too_far = np.flatnonzero(row >= np.asarray(num_parts_rows)[part])
    if too_far.size:
        i = int(too_far[0])
        raise errors.ParameterServerError(
            "%s's parts are not split as tf.fixed_size_partitioner splits: "
            "part %d has %d rows, not row %d." %
            (full_name, part[i], num_parts_rows[part[i]], row[i]),
            grpc.StatusCode.FAILED_PRECONDITION)
    return part, row


def embedding_lookup(params, ids, partition_strategy="mod", name=None,
                     validate_indices=True, max_norm=None):
    """tf.nn.embedding_lookup: the rows `ids` of the server variable
    `params` (partitioned or not), gathered on the servers, as an array of
    shape ids.shape + params.shape[1:]. Each part's rows are read at one
    version. max_norm clips each row to that L2 norm, as TensorFlow does."""
    del name, validate_indices
    full_name = params.op_name
    flat, ids_shape = _ids(ids, "embedding_lookup")
    # pylint: disable=protected-access
    version, rows = params._connection.gather_rows(full_name, flat,
                                                   partition_strategy)
    if version is not None and isinstance(params, variables.Variable):
        # The rows' version: what bounded staleness measures a gradient
        # computed from them against.
        with params._lock:
            params._pulled_version = version
    dtype = params.dtype.as_numpy_dtype
    out = np.frombuffer(rows, dtype=dtype).reshape(
        tuple(ids_shape) + tuple(params.shape[1:]))
    if max_norm is not None:
        if max_norm <= 0 or np.dtype(dtype).kind != "f":
            raise ValueError("max_norm must be positive and the variable "
                             "floating point.")
        flat_rows = out.reshape(len(flat), int(np.prod(params.shape[1:])))
        norms = np.sqrt(np.sum(flat_rows * flat_rows, axis=1,
                               dtype=dtype)).astype(dtype)
        limit = np.asarray(max_norm, dtype=dtype)
        scale = limit / np.maximum(norms, limit)
        out = (flat_rows * scale[:, None]).reshape(out.shape)
    return out


def _push_rows(ref, kind, indices, updates, optimizer=None,
               partition_strategy="mod", max_staleness=0, push_id=""):
    flat, _ = _ids(indices, ref.op_name)
    rows = np.ascontiguousarray(updates, dtype=ref.dtype.as_numpy_dtype)
    row_elements = int(np.prod(ref.shape[1:], dtype=np.int64))
    if rows.size != len(flat) * row_elements:
        raise ValueError(
            "Updates of shape %s do not fit %d ids of rows of shape %s of "
            "%s." % (rows.shape, len(flat), tuple(ref.shape[1:]), ref.name))
    # pylint: disable=protected-access
    base = ref._pulled_version if max_staleness > 0 else None
    info = ref._connection.push_rows(ref.op_name, kind, flat, rows.data,
                                     optimizer, partition_strategy, base,
                                     max_staleness, push_id)
    ref._update(info)  # pylint: disable=protected-access
    return ref


def scatter_update(ref, indices, updates, use_locking=True, name=None,
                   partition_strategy="mod", push_id=""):
    """tf.scatter_update: ref[indices] = updates on the server (a repeated
    index: its last row wins). Returns `ref`. On a partitioned variable
    the indices are global ids placed by `partition_strategy`."""
    del use_locking, name
    return _push_rows(ref, pb.Update.ASSIGN, indices, updates,
                      partition_strategy=partition_strategy, push_id=push_id)


def scatter_add(ref, indices, updates, use_locking=False, name=None,
                partition_strategy="mod", push_id=""):
    """tf.scatter_add: ref[indices] += updates on the server (repeated
    indices add up). Returns `ref`."""
    del use_locking, name
    return _push_rows(ref, pb.Update.ASSIGN_ADD, indices, updates,
                      partition_strategy=partition_strategy, push_id=push_id)


def check_sparse(variable, gradient, partition_strategy, max_staleness):
    """Raises what apply_sparse would raise before pushing anything, so that
    apply_gradients refuses a call before any of it is applied."""
    flat, _ = _ids(gradient.indices, variable.op_name)
    row_elements = int(np.prod(variable.shape[1:], dtype=np.int64))
    if gradient.values.size != len(flat) * row_elements:
        raise ValueError(
            "IndexedSlices values of shape %s do not fit %d indices of rows "
            "of shape %s of %s." % (gradient.values.shape, len(flat),
                                    tuple(variable.shape[1:]), variable.name))
    if partition_strategy not in _STRATEGIES:
        raise ValueError("Unrecognized partition strategy: %s" %
                         partition_strategy)
    if max_staleness > 0 and (
            isinstance(variable, variables.PartitionedVariable) or
            not isinstance(variable, variables.Variable)):
        raise ValueError("Bounded staleness needs an unpartitioned variable; "
                         "%s is partitioned or a dynamic table." %
                         variable.name)


def apply_sparse(variable, gradient, optimizer, partition_strategy="mod",
                 max_staleness=0, push_id=""):
    """One optimizer step on the rows `gradient` (IndexedSlices) names;
    with max_staleness, computed from the version last pulled here. On a
    partitioned variable the indices are global ids, placed on the parts
    by `partition_strategy` as embedding_lookup places them."""
    return _push_rows(variable, pb.Update.APPLY_GRADIENT, gradient.indices,
                      gradient.values, optimizer, partition_strategy,
                      max_staleness, push_id)


def split_for_parts(layout, ids, rows_bytes, strategy, full_name):
    """Per part: (row ids within the part, their rows' bytes, positions of
    those ids in `ids`)."""
    part, row = place_ids(ids, layout.shape[0], layout.rows, strategy,
                          full_name)
    view = np.frombuffer(rows_bytes, dtype=np.uint8).reshape(
        len(ids), layout.row_bytes) if rows_bytes is not None else None
    out = []
    for p in range(len(layout.rows)):
        where = np.flatnonzero(part == p)
        out.append((row[where], None if view is None else
                    np.ascontiguousarray(view[where]).data, where))
    return out


# ---- Pooled lookups: tf.nn.embedding_lookup_sparse ----

_COMBINERS = {"mean": pb.Bags.MEAN, "sum": pb.Bags.SUM, "sqrtn": pb.Bags.SQRTN}


class SparseTensor:
    """tf.SparseTensor: `values` at `indices` ([N, rank] int64) of a tensor
    of `dense_shape`. For embedding_lookup_sparse, row i's entries are the
    ids of bag i, in row-major order."""

    def __init__(self, indices, values, dense_shape):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(
            len(values), -1) if len(values) else np.zeros((0, 2), np.int64)
        self.values = np.asarray(values)
        self.dense_shape = tuple(int(d) for d in dense_shape)


def _bags(sp_ids, sp_weights, combiner, name):
    """(ids, pb.Bags) for a SparseTensor of ids, one bag per row."""
    if combiner not in _COMBINERS:
        raise ValueError("combiner must be one of 'mean', 'sqrtn' or 'sum'.")
    ids, _ = _ids(sp_ids.values, name)
    rows = sp_ids.indices[:, 0] if len(ids) else np.zeros(0, np.int64)
    if np.any(np.diff(rows) < 0):
        raise ValueError("sp_ids must be ordered by row (row-major), as "
                         "tf.sparse.reorder leaves them.")
    num_bags = sp_ids.dense_shape[0]
    if len(rows) and (rows[0] < 0 or rows[-1] >= num_bags):
        raise ValueError("sp_ids rows must be in [0, %d)." % num_bags)
    bags = pb.Bags(combiner=_COMBINERS[combiner])
    bags.offsets.extend(
        np.searchsorted(rows, np.arange(num_bags), side="left").tolist())
    if sp_weights is not None:
        weights = np.asarray(sp_weights.values, dtype=np.float32).ravel()
        if len(weights) != len(ids):
            raise ValueError("sp_weights must hold one weight per id: %d "
                             "ids, %d weights." % (len(ids), len(weights)))
        bags.weights.extend(weights.tolist())
    return ids, bags


def embedding_lookup_sparse(params, sp_ids, sp_weights, partition_strategy="mod",
                            name=None, combiner=None, max_norm=None):
    """tf.nn.embedding_lookup_sparse, pooled on the servers: one row per row
    of `sp_ids` (its bag of ids, weighted by `sp_weights` or 1), combined
    by "mean" (the default), "sum" or "sqrtn"; an empty bag pools to zeros.
    Returns an array of shape [sp_ids.dense_shape[0]] + params.shape[1:]."""
    del name
    if max_norm is not None:
        raise ValueError("max_norm clips rows before pooling, which the "
                         "servers do not: gather with embedding_lookup.")
    ids, bags = _bags(sp_ids, sp_weights, combiner or "mean", params.op_name)
    pooled = params._connection.lookup_sparse(  # pylint: disable=protected-access
        params.op_name, ids, bags, partition_strategy)
    return np.frombuffer(pooled, dtype=np.float32).reshape(
        (len(bags.offsets),) + tuple(params.shape[1:]))


class PooledGradient:
    """The gradient of embedding_lookup_sparse's result: `values`, one row
    per bag, for apply_gradients. The server gives each id of bag b its
    bag's row times the id's weight, divided as the combiner divided, then
    takes the sparse optimizer step on those rows."""

    def __init__(self, values, sp_ids, sp_weights=None, combiner="mean"):
        self.values = np.asarray(values)
        self.sp_ids = sp_ids
        self.sp_weights = sp_weights
        self.combiner = combiner


def apply_pooled(variable, gradient, optimizer, partition_strategy="mod",
                 push_id=""):
    ids, bags = _bags(gradient.sp_ids, gradient.sp_weights,
                      gradient.combiner, variable.op_name)
    rows = np.ascontiguousarray(gradient.values, dtype=np.float32)
    row_elements = int(np.prod(variable.shape[1:], dtype=np.int64))
    if rows.size != len(bags.offsets) * row_elements:
        raise ValueError("A pooled gradient of %s needs one row per bag: %d "
                         "bags of %d floats, got shape %s." %
                         (variable.name, len(bags.offsets), row_elements,
                          rows.shape))
    # pylint: disable=protected-access
    info = variable._connection.push_rows(
        variable.op_name, pb.Update.APPLY_GRADIENT, ids, rows.data, optimizer,
        partition_strategy, push_id=push_id, bags=bags)
    variable._update(info)
    return variable


def split_bags(layout, ids, bags, strategy, full_name):
    """Per part: (row ids, pb.Bags with SUM and each weight divided by its
    whole bag's divisor, the whole call's bag index of each of its bags),
    so that the parts' pooled rows only need adding (the C++ client's
    SplitBags)."""
    part, row = place_ids(ids, layout.shape[0], layout.rows, strategy,
                          full_name)
    weights = np.asarray(bags.weights, np.float32) if len(bags.weights) \
        else np.ones(len(ids), np.float32)
    offsets = list(bags.offsets) + [len(ids)]
    out = [([], pb.Bags(combiner=pb.Bags.SUM), []) for _ in layout.rows]
    for b in range(len(bags.offsets)):
        begin, end = offsets[b], offsets[b + 1]
        w = weights[begin:end]
        if bags.combiner == pb.Bags.SUM:
            divisor = np.float32(1)
        elif bags.combiner == pb.Bags.MEAN:
            divisor = np.add.reduce(w, dtype=np.float32)
        else:
            divisor = np.sqrt(np.add.reduce(w * w, dtype=np.float32))
        for k in range(begin, end):
            part_rows, part_bags, whole_bags = out[part[k]]
            if not whole_bags or whole_bags[-1] != b:
                part_bags.offsets.append(len(part_rows))
                whole_bags.append(b)
            part_rows.append(int(row[k]))
            part_bags.weights.append(float(np.float32(weights[k]) / divisor))
    return [(np.asarray(r, np.int64), bg, wb) for r, bg, wb in out]
