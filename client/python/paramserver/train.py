"""tf.compat.v1.train's optimizers, applied by the server.

    opt = tf.train.AdagradOptimizer(0.1)
    opt.apply_gradients([(grad_w, w), (grad_b, b)])

apply_gradients sends every gradient in one push, applied all or nothing
under the variables' locks; the slots (w/Adagrad, w/Momentum, w/Adam and
w/Adam_1, w/Ftrl and w/Ftrl_1) live on the server under TensorFlow's names.
With max_staleness > 0, a gradient computed from a version more than that
many versions behind the server's is refused (ParameterServerError, code
ABORTED) and nothing is applied.
"""

import numpy as np

from paramserver import rows
from paramserver_pb import parameter_server_pb2 as pb


class Optimizer:
    """Base class: the proto Optimizer this one sends."""

    def __init__(self, kind, learning_rate, name):
        self._proto = pb.Optimizer(kind=kind,
                                   learning_rate=float(learning_rate))
        self._name = name

    def get_name(self):
        return self._name

    def apply_gradients(self, grads_and_vars, global_step=None, name=None,
                        max_staleness=0, push_id=None,
                        partition_strategy="mod"):
        """Pushes [(gradient, variable)] (None gradients skipped): the
        dense gradients in one all-or-nothing push, then each
        IndexedSlices gradient as its own push of the rows it names (a
        sparse step: only those rows and their slots move, as TensorFlow's
        sparse apply ops). Returns the variables, with their new
        versions. The gradient of each was computed from the version last
        pulled for it here (or made, if never pulled), which bounded
        staleness checks.

        `push_id` (at most 60 bytes) makes a retry safe: a server that
        applied the push answers a repeat with the same id with the first
        answer, applying nothing again (say "w3-run7-s120": worker, run,
        step). The dense push carries it; the i-th sparse gradient's push
        carries "<push_id>/s<i>". None: a random id for the dense push and
        none for the sparse ones.

        A sparse gradient of a partitioned variable holds global ids,
        placed on its parts by `partition_strategy` ("mod" or "div", as the
        embedding_lookup that read them). Every gradient is checked before
        any push is sent, so a refused call applies nothing."""
        del global_step, name
        grads_and_vars = list(grads_and_vars)
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable: %s." %
                             ([v.name for _, v in grads_and_vars],))
        sparse_kinds = (rows.IndexedSlices, rows.PooledGradient)
        sparse = [(g, v) for g, v in pairs if isinstance(g, sparse_kinds)]
        dense = [(g, v) for g, v in pairs if not isinstance(g, sparse_kinds)]
        for gradient, variable in sparse:
            if isinstance(gradient, rows.IndexedSlices):
                rows.check_sparse(variable, gradient, partition_strategy,
                                  max_staleness)
            elif max_staleness > 0:
                raise ValueError("Pooled gradients take no bounded "
                                 "staleness yet.")
        if dense:
            self._apply_dense(dense, max_staleness, push_id)
        for i, (gradient, variable) in enumerate(sparse):
            if isinstance(gradient, rows.PooledGradient):
                rows.apply_pooled(variable, gradient, self._proto,
                                  partition_strategy,
                                  "" if push_id is None else
                                  "%s/s%d" % (push_id, i))
                continue
            rows.apply_sparse(variable, gradient, self._proto,
                              partition_strategy=partition_strategy,
                              max_staleness=max_staleness,
                              push_id="" if push_id is None else
                              "%s/s%d" % (push_id, i))
        return [v for _, v in pairs]

    def _apply_dense(self, pairs, max_staleness, push_id):
        connection = pairs[0][1]._connection  # pylint: disable=protected-access
        updates = []
        for gradient, variable in pairs:
            array = np.ascontiguousarray(
                gradient, dtype=variable.dtype.as_numpy_dtype)
            if array.size != int(np.prod(variable.shape, dtype=np.int64)):
                raise ValueError(
                    "Gradient of shape %s does not fit %s of shape %s." %
                    (array.shape, variable.name, tuple(variable.shape)))
            # pylint: disable=protected-access
            updates.append((variable.op_name, pb.Update.APPLY_GRADIENT,
                            array.data, variable._pulled_version
                            if max_staleness > 0 else None))
        infos = connection.push(updates, optimizer=self._proto,
                                max_staleness=max_staleness, push_id=push_id)
        for (_, variable), info in zip(pairs, infos):
            variable._update(info)  # pylint: disable=protected-access


class GradientDescentOptimizer(Optimizer):
    def __init__(self, learning_rate, use_locking=False,
                 name="GradientDescent"):
        del use_locking
        super().__init__(pb.Optimizer.SGD, learning_rate, name)


class MomentumOptimizer(Optimizer):
    def __init__(self, learning_rate, momentum, use_locking=False,
                 name="Momentum", use_nesterov=False):
        del use_locking
        super().__init__(pb.Optimizer.MOMENTUM, learning_rate, name)
        self._proto.momentum = float(momentum)
        self._proto.use_nesterov = bool(use_nesterov)


class AdagradOptimizer(Optimizer):
    def __init__(self, learning_rate, initial_accumulator_value=0.1,
                 use_locking=False, name="Adagrad"):
        del use_locking
        if initial_accumulator_value <= 0.0:
            raise ValueError("initial_accumulator_value must be positive: %s" %
                             initial_accumulator_value)
        super().__init__(pb.Optimizer.ADAGRAD, learning_rate, name)
        self._proto.initial_accumulator_value = float(
            initial_accumulator_value)


class AdamOptimizer(Optimizer):
    _KIND = pb.Optimizer.ADAM

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999,
                 epsilon=1e-08, use_locking=False, name="Adam"):
        del use_locking
        super().__init__(self._KIND, learning_rate, name)
        self._proto.beta1 = float(beta1)
        self._proto.beta2 = float(beta2)
        self._proto.epsilon = float(epsilon)


class LazyAdamOptimizer(AdamOptimizer):
    """tf.contrib.opt.LazyAdamOptimizer: Adam; on sparse gradients only the
    touched rows move."""
    _KIND = pb.Optimizer.LAZY_ADAM

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999,
                 epsilon=1e-08, use_locking=False, name="LazyAdam"):
        super().__init__(learning_rate, beta1, beta2, epsilon, use_locking,
                         name)


class FtrlOptimizer(Optimizer):
    def __init__(self, learning_rate, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, use_locking=False,
                 name="Ftrl", accum_name=None, linear_name=None,
                 l2_shrinkage_regularization_strength=0.0):
        del use_locking, accum_name, linear_name
        super().__init__(pb.Optimizer.FTRL, learning_rate, name)
        self._proto.learning_rate_power = float(learning_rate_power)
        self._proto.initial_accumulator_value = float(
            initial_accumulator_value)
        self._proto.l1_regularization_strength = float(
            l1_regularization_strength)
        self._proto.l2_regularization_strength = float(
            l2_regularization_strength)
        self._proto.l2_shrinkage_regularization_strength = float(
            l2_shrinkage_regularization_strength)
