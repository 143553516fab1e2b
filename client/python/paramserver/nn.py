"""tf.nn's functions that read server variables."""

from paramserver.rows import embedding_lookup  # pylint: disable=unused-import
