"""Server variables as PyTorch parameters, trained with autograd.

    import paramserver as tf
    import paramserver.torch as ps_torch

    with tf.variable_scope("conv1"):
        w = tf.get_variable("weights", [5, 5, 32, 32])   # HWIO, as in TF
        b = tf.get_variable("biases", [32])
    params = ps_torch.ParameterSet()
    weight = params.add(w, layout=ps_torch.CONV2D_HWIO)  # OIHW for conv2d
    bias = params.add(b)
    opt = tf.train.AdamOptimizer(1e-3)

    def loss_fn():
        out = torch.nn.functional.conv2d(images, weight, bias, padding=2)
        return torch.nn.functional.mse_loss(out, targets)

    loss = params.step(loss_fn, opt)   # pull, forward, backward, push

A ParameterSet keeps one torch.nn.Parameter per variable, in place: a pull
copies the values that changed on the server into the same tensors, so
modules and closures built over them see the new values. Gradients go back
in the server's layout, one all-or-nothing push per step, applied by the
server's optimizer.

Needs Debian's python3-torch; the rest of paramserver does not.
"""

import warnings

import numpy as np
import torch

from paramserver import variables as variables_lib

# A 2-D convolution kernel stored as TensorFlow stores it, [height, width,
# in, out] (HWIO), held in PyTorch as conv2d takes it, [out, in, height,
# width] (OIHW).
CONV2D_HWIO = "conv2d_hwio"

_TO_TORCH = {CONV2D_HWIO: (3, 2, 0, 1)}  # HWIO -> OIHW
# The inverse permutations: OIHW -> HWIO.
_TO_SERVER = {layout: tuple(int(i) for i in np.argsort(order))
              for layout, order in _TO_TORCH.items()}


def _torch_dtype(variable):
    return torch.from_numpy(np.zeros(0, variable.dtype.as_numpy_dtype)).dtype


def _as_tensor(array):
    """A tensor over a pulled array's bytes, without a copy. The array is
    read-only; the tensor is only ever read (copied into a parameter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


class ParameterSet:
    """Server variables held as torch.nn.Parameters, pulled and pushed
    together. Thread-compatible: one per worker thread."""

    def __init__(self):
        self._variables = []
        self._parameters = []
        self._layouts = []
        self._copied = []  # The version each parameter holds.

    def add(self, variable, layout=None, requires_grad=None):
        """A Parameter holding `variable`'s current value (pulled now).
        `layout`: None (the server's shape) or CONV2D_HWIO (a rank-4 kernel
        held as OIHW). `requires_grad` defaults to the variable's
        trainable. A variable added again (a reused get_variable) gives the
        Parameter it already has: one set of weights, one Parameter."""
        for held, parameter, held_layout in zip(
                self._variables, self._parameters, self._layouts):
            if held.op_name == variable.op_name and \
                    held._connection is variable._connection:  # pylint: disable=protected-access
                if held_layout != layout:
                    raise ValueError(
                        "%s is held with layout %r already, not %r." %
                        (variable.name, held_layout, layout))
                return parameter
        if layout is not None and layout not in _TO_TORCH:
            raise ValueError("Unknown layout %r; use None or CONV2D_HWIO." %
                             (layout,))
        shape = tuple(variable.shape)
        if layout == CONV2D_HWIO and len(shape) != 4:
            raise ValueError(
                "%s has shape %s; CONV2D_HWIO needs a rank-4 kernel "
                "[height, width, in, out]." % (variable.name, shape))
        torch_shape = tuple(shape[i] for i in _TO_TORCH[layout]) \
            if layout else shape
        parameter = torch.nn.Parameter(
            torch.empty(torch_shape, dtype=_torch_dtype(variable)),
            requires_grad=variable.trainable if requires_grad is None
            else requires_grad)
        [array] = variables_lib.pull([variable])
        self._copy_in(parameter, layout, array)
        self._variables.append(variable)
        self._parameters.append(parameter)
        self._layouts.append(layout)
        self._copied.append(variable.version)
        return parameter

    def parameters(self):
        """The Parameters, in the order they were added."""
        return list(self._parameters)

    def variables(self):
        return list(self._variables)

    def __len__(self):
        return len(self._parameters)

    @staticmethod
    def _copy_in(parameter, layout, array):
        source = _as_tensor(array)
        if layout is not None:
            source = source.permute(*_TO_TORCH[layout])
        with torch.no_grad():
            parameter.copy_(source)

    def pull(self):
        """Brings every parameter up to the server's value in one
        conditional pull: only variables whose version moved travel and are
        copied; the tensors stay the same objects."""
        arrays = variables_lib.pull(self._variables)
        for i, (variable, array) in enumerate(zip(self._variables, arrays)):
            if variable.version != self._copied[i]:
                self._copy_in(self._parameters[i], self._layouts[i], array)
                self._copied[i] = variable.version

    def gradients(self):
        """[(gradient in the server's layout as a numpy array, variable)]
        for every parameter with a gradient."""
        pairs = []
        for variable, parameter, layout in zip(
                self._variables, self._parameters, self._layouts):
            if parameter.grad is None:
                continue
            grad = parameter.grad.detach()
            if layout is not None:
                grad = grad.permute(*_TO_SERVER[layout])
            pairs.append((grad.contiguous().numpy(), variable))
        return pairs

    def push_gradients(self, optimizer, max_staleness=0):
        """Sends every parameter's .grad to the server in one all-or-nothing
        push, applied by `optimizer` (a paramserver.train optimizer)."""
        pairs = self.gradients()
        if not pairs:
            raise ValueError("No gradients provided for any variable: %s." %
                             ([v.name for v in self._variables],))
        optimizer.apply_gradients(pairs, max_staleness=max_staleness)

    def zero_grad(self):
        for parameter in self._parameters:
            parameter.grad = None

    def step(self, loss_fn, optimizer, max_staleness=0):
        """One training step: pull, loss_fn() (the forward pass, over these
        parameters), backward, push the gradients. Returns the loss as a
        float. A stale push (max_staleness) raises ParameterServerError with
        code ABORTED and applies nothing."""
        self.pull()
        self.zero_grad()
        loss = loss_fn()
        loss.backward()
        self.push_gradients(optimizer, max_staleness=max_staleness)
        return float(loss.detach())
