"""tf.compat.v1.variable_scope on the client, without any RPC.

Scopes decide what a get_variable request says (scope name, reuse mode,
default initializer and dtype); the server applies the reuse rules for every
worker at once. As the C++ client (client/variable_scope.h) and TensorFlow,
every thread has its own scope stack and default_name counts and starts at
the top level.
"""

import threading

from paramserver import dtypes


class _ReuseMode:
    """The type of AUTO_REUSE, as TensorFlow's _ReuseMode."""

    def __repr__(self):
        return "tf.AUTO_REUSE"


AUTO_REUSE = _ReuseMode()


class VariableScope:
    """What tf.variable_scope yields: a name and the defaults it gives."""

    def __init__(self, reuse, name="", initializer=None, partitioner=None,
                 dtype=dtypes.float32):
        self._reuse = reuse
        self._name = name
        self._initializer = initializer
        self._partitioner = partitioner
        self._dtype = dtypes.as_dtype(dtype)

    @property
    def name(self):
        return self._name

    @property
    def original_name_scope(self):
        return self._name + "/" if self._name else ""

    @property
    def reuse(self):
        return self._reuse

    @property
    def initializer(self):
        return self._initializer

    @property
    def partitioner(self):
        return self._partitioner

    @property
    def dtype(self):
        return self._dtype

    def reuse_variables(self):
        """From now on this scope reuses; scopes opened in it keep theirs."""
        self._reuse = True

    def set_initializer(self, initializer):
        self._initializer = initializer

    def set_dtype(self, dtype):
        self._dtype = dtypes.as_dtype(dtype)

    def set_partitioner(self, partitioner):
        self._partitioner = partitioner


class _ScopeStore(threading.local):
    """One thread's innermost scope and how often it opened each name."""

    def __init__(self):
        super().__init__()
        self.current = VariableScope(False)
        self.counts = {}

    def open(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def close_subscopes(self, name):
        prefix = name + "/"
        for key in [k for k in self.counts if k.startswith(prefix)]:
            del self.counts[key]


_store = _ScopeStore()


def get_variable_scope():
    """The calling thread's innermost scope (the top level outside any)."""
    return _store.current


def join_scope(scope, name):
    """The full name: "scope/name", or name at the top level (scope "")."""
    return scope + "/" + name if scope else name


def _unique_name(prefix):
    # TF's _get_unique_variable_scope.
    full = join_scope(_store.current.name, prefix)
    if _store.counts.get(full, 0) == 0:
        return prefix
    index = 1
    while _store.counts.get("%s_%d" % (full, index), 0) > 0:
        index += 1
    return "%s_%d" % (prefix, index)


class variable_scope:  # pylint: disable=invalid-name
    """`with tf.variable_scope(name_or_scope, ...) as scope:`.

    A string nests under the current scope; a VariableScope is re-entered by
    its absolute name, with the reuse it captured unless `reuse` is given;
    None with `default_name` opens `default_name`, or `default_name_N` for the
    smallest N this thread has not opened in the current scope. Reuse can be
    turned on (True, AUTO_REUSE), never off: reuse=False is reuse=None.
    Unset initializer, partitioner and dtype are inherited. `values` and the
    other TensorFlow arguments that concern graphs are accepted and ignored.
    """

    def __init__(self, name_or_scope, default_name=None, values=None,
                 initializer=None, regularizer=None, caching_device=None,
                 partitioner=None, custom_getter=None, reuse=None,
                 dtype=None, use_resource=None, constraint=None,
                 auxiliary_name_scope=True):
        del values, regularizer, caching_device, custom_getter
        del use_resource, constraint, auxiliary_name_scope
        if default_name is None and name_or_scope is None:
            raise TypeError(
                "If default_name is None then name_or_scope is required")
        if reuse is False:
            reuse = None  # TF allows no non-inheriting scopes.
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError(
                "The reuse parameter must be True or False or None.")
        if name_or_scope is not None and not isinstance(
                name_or_scope, (str, VariableScope)):
            raise TypeError("VariableScope: name_or_scope must be a string or "
                            "VariableScope.")
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._initializer = initializer
        self._partitioner = partitioner
        self._reuse = reuse
        self._dtype = dtype
        self._scope = None
        self._outer = None
        self._counts_to_restore = None

    def __enter__(self):
        if self._scope is not None:
            raise RuntimeError("variable_scope entered twice")
        outer = _store.current
        if isinstance(self._name_or_scope, VariableScope):
            base = self._name_or_scope
            name = base.name
            reuse = self._reuse or base.reuse
        else:
            base = outer
            if self._name_or_scope is not None:
                name = join_scope(outer.name, self._name_or_scope)
            else:
                if self._reuse:
                    raise ValueError(
                        "reuse=True cannot be used without a name_or_scope")
                name = join_scope(outer.name,
                                  _unique_name(self._default_name))
            reuse = self._reuse or outer.reuse
        self._scope = VariableScope(
            reuse, name,
            self._initializer if self._initializer is not None
            else base.initializer,
            self._partitioner if self._partitioner is not None
            else base.partitioner,
            self._dtype if self._dtype is not None else base.dtype)
        _store.open(name)
        if isinstance(self._name_or_scope, VariableScope):
            # TF snapshots after counting the re-entered scope, so that count
            # survives leaving it while everything opened inside does not.
            self._counts_to_restore = dict(_store.counts)
        self._outer = outer
        _store.current = self._scope
        return self._scope

    def __exit__(self, *exc):
        if _store.current is not self._scope:
            raise RuntimeError(
                "Improper nesting of variable_scope: scope %r left while not "
                "the innermost scope of this thread" % self._scope.name)
        if self._counts_to_restore is not None:
            _store.counts = self._counts_to_restore
        else:
            _store.close_subscopes(self._scope.name)
        _store.current = self._outer
        return False
