"""tf.nn's functions that read server variables."""

# pylint: disable=unused-import
from paramserver.rows import embedding_lookup
from paramserver.rows import embedding_lookup_sparse
