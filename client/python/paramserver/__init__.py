"""A Python client for the parameter server that reads as TensorFlow 1.x.

    import paramserver as tf
    tf.connect("127.0.0.1:2222")
    with tf.variable_scope("foo"):
        v = tf.get_variable("v", [1])
        tf.get_variable_scope().reuse_variables()
        v1 = tf.get_variable("v", [1])
    assert v1.name == v.name == "foo/v:0"

Variables live on the server, which applies get_variable's reuse rules for
every worker at once and runs initializers once, when a variable is made.
"""

from paramserver import dynamic_embedding
from paramserver import nn
from paramserver import rows
from paramserver import train
from paramserver.connection import Connection
from paramserver.connection import connect
from paramserver.dtypes import DType
from paramserver.dtypes import as_dtype
from paramserver.dtypes import bool  # pylint: disable=redefined-builtin
from paramserver.dtypes import double
from paramserver.dtypes import float32
from paramserver.dtypes import float64
from paramserver.dtypes import int32
from paramserver.dtypes import int64
from paramserver.errors import ParameterServerError
from paramserver.errors import ServerUnavailableError
from paramserver.errors import VariableError
from paramserver.initializers import constant_initializer
from paramserver.initializers import glorot_normal_initializer
from paramserver.initializers import glorot_uniform_initializer
from paramserver.initializers import ones_initializer
from paramserver.initializers import random_normal_initializer
from paramserver.initializers import random_uniform_initializer
from paramserver.initializers import truncated_normal_initializer
from paramserver.initializers import variance_scaling_initializer
from paramserver.initializers import zeros_initializer
from paramserver.rows import IndexedSlices
from paramserver.rows import PooledGradient
from paramserver.rows import SparseTensor
from paramserver.rows import scatter_add
from paramserver.rows import scatter_update
from paramserver.scopes import AUTO_REUSE
from paramserver.scopes import VariableScope
from paramserver.scopes import get_variable_scope
from paramserver.scopes import variable_scope
from paramserver.tls import TlsOptions
from paramserver.variables import TensorShape
from paramserver.variables import Variable
from paramserver.cluster import Cluster
from paramserver.variables import PartitionedVariable
from paramserver.variables import fixed_size_partitioner
from paramserver.variables import get_variable
from paramserver.variables import pull
