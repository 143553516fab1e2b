"""The Python client places variables exactly as the C++ client does: the
cases in client/testdata/placement_cases.tsv, which the C++ test checks
too, and the values the C++ test fixes."""

import os

from paramserver import placement

_CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "..", "testdata", "placement_cases.tsv")


def test_every_shared_case_agrees_with_the_cpp_client():
    checked = 0
    with open(_CASES, encoding="utf-8") as cases:
        for line in cases:
            if not line.strip() or line.startswith("#"):
                continue
            name, servers, shard = line.rstrip("\n").split("\t")
            assert placement.shard_for_variable(name, int(servers)) == \
                int(shard), line
            checked += 1
    assert checked == 150


def test_the_fixed_fingerprints_and_shards():
    assert placement.name_fingerprint("") == 0xf52a15e9a9b5e89b
    assert placement.name_fingerprint("conv1/weights") == 0x9a7902a779556220
    assert [placement.shard_for_name("conv1/biases", n)
            for n in (2, 3, 4, 8)] == [1, 2, 3, 5]


def test_partitions_follow_fixed_size_partitioner():
    assert placement.partition_rows(10, 3) == [4, 3, 3]
    assert placement.partition_rows(2, 5) == [1, 1]
    assert placement.partition_name("emb", 2) == "emb/part_2"
