"""Where a variable lives among N parameter servers: the C++ client's
placement (client/shard_placement.h), bit for bit, so Python and C++ workers
of one job agree on it. Fixed by these definitions, never by a library's
hash; client/testdata/placement_cases.tsv holds cases both languages'
tests check.
"""

_MASK = (1 << 64) - 1
# A slot lives where its variable does (common/slot_names.h).
_SLOT_SUFFIXES = ("Momentum", "Adagrad", "Adam", "Adam_1", "Ftrl", "Ftrl_1")


def name_fingerprint(full_name):
    """FNV-1a (64-bit) of the name's UTF-8 bytes, then SplitMix64's
    finalizer."""
    h = 0xcbf29ce484222325
    for byte in full_name.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001b3) & _MASK
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & _MASK
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & _MASK
    h ^= h >> 31
    return h


def jump_consistent_hash(key, num_buckets):
    """Lamping and Veach's jump consistent hash, as the C++ computes it
    (the division in double precision)."""
    bucket, following = -1, 0
    while following < num_buckets:
        bucket = following
        key = (key * 2862933555777941757 + 1) & _MASK
        following = int((bucket + 1) * (float(1 << 31) /
                                        float((key >> 33) + 1)))
    return bucket


def shard_for_name(full_name, num_shards):
    if num_shards <= 1:
        return 0
    return jump_consistent_hash(name_fingerprint(full_name), num_shards)


def shard_for_partition(full_name, partition, num_shards):
    """Part i of a variable lives on (shard_for_name + i) % N."""
    if num_shards <= 1:
        return 0
    return (shard_for_name(full_name, num_shards) + partition) % num_shards


def shard_for_variable(full_name, num_shards):
    """The shard of `full_name`: a slot's is its variable's, a part
    "x/part_3"'s is shard_for_partition("x", 3), any other name's is
    shard_for_name."""
    if num_shards <= 1:
        return 0
    parent, slash, last = full_name.rpartition("/")
    if not slash:
        return shard_for_name(full_name, num_shards)
    if last in _SLOT_SUFFIXES:
        return shard_for_variable(parent, num_shards)
    digits = last[len("part_"):] if last.startswith("part_") else ""
    if digits and len(digits) <= 9 and digits.isascii() and digits.isdigit():
        return shard_for_partition(parent, int(digits), num_shards)
    return shard_for_name(full_name, num_shards)


def partition_rows(dim0, num_partitions):
    """tf.fixed_size_partitioner along the first axis: min(parts, dim0)
    parts (at least one), the first dim0 % parts one row longer."""
    parts = max(1, min(num_partitions, dim0))
    return [dim0 // parts + (1 if i < dim0 % parts else 0)
            for i in range(parts)]


def partition_name(full_name, partition):
    return "%s/part_%d" % (full_name, partition)
