"""wire.py against the generated protobuf classes: what it reads is what
protobuf wrote, and what it writes protobuf reads back."""

import numpy as np
import pytest

from paramserver import wire
from paramserver_pb import parameter_server_pb2 as pb


def _info(name, version, dims):
    info = pb.VariableInfo(name=name, version=version)
    info.shape.dims.extend(dims)
    return info


def test_a_pull_response_parses_as_protobuf_wrote_it():
    response = pb.PullResponse()
    response.variables.add(variable=_info("a", 3, [2]), value=b"12345678")
    response.variables.add(variable=_info("b", 5, [1]), unchanged=True)
    response.variables.add(variable=_info("c", 7, [1 << 22]), streamed=True)
    response.variables.add(variable=_info("empty", 1, [0]))
    raw = response.SerializeToString()
    parsed = wire.parse_pull_response(raw)
    assert [p.info for p in parsed] == list(
        v.variable for v in response.variables)
    assert bytes(parsed[0].value) == b"12345678"
    assert parsed[0].value.obj is raw  # A view, not a copy.
    assert (parsed[1].unchanged, parsed[1].value) == (True, None)
    assert (parsed[2].streamed, parsed[2].value) == (True, None)
    assert bytes(parsed[3].value) == b""


def test_unknown_fields_are_skipped():
    message = pb.PulledVariable(variable=_info("a", 1, [1]), value=b"abcd")
    # Field 15 as a varint, a fixed64, a length-delimited and a fixed32.
    extra = b"\x78\x05" + b"\x79" + bytes(8) + b"\x7a\x02hi" + b"\x7d" + \
        bytes(4)
    body = message.SerializeToString() + extra
    raw = b"\x0a" + bytes([len(body)]) + body + b"\x10\x01"
    [parsed] = wire.parse_pull_response(raw)
    assert bytes(parsed.value) == b"abcd" and parsed.info.name == "a"


@pytest.mark.parametrize("raw", [
    b"\x0a\x05\x22\x10ab",       # A value longer than its message.
    b"\x0a",                     # A length cut off.
    b"\x0a\x80\x80",             # A varint cut off.
    b"\x0b",                     # Wire type 3 (groups) is not used here.
    b"\x0a" + b"\xff" * 11,      # A varint too long.
])
def test_a_damaged_message_is_refused(raw):
    with pytest.raises(wire.WireError):
        wire.parse_pull_response(raw)


def test_a_value_chunk_parses_as_protobuf_wrote_it():
    first = pb.ValueChunk(variable=_info("v", 9, [4]), offset=0,
                          data=b"\x01\x02")
    info, unchanged, offset, data = wire.parse_value_chunk(
        first.SerializeToString())
    assert info == first.variable and not unchanged
    assert (offset, bytes(data)) == (0, b"\x01\x02")
    later = pb.ValueChunk(offset=(5 << 30) + 3, data=b"xyz")
    info, unchanged, offset, data = wire.parse_value_chunk(
        later.SerializeToString())
    assert info is None and offset == (5 << 30) + 3 and bytes(data) == b"xyz"
    info, unchanged, _, _ = wire.parse_value_chunk(pb.ValueChunk(
        variable=_info("v", 9, [4]), unchanged=True).SerializeToString())
    assert unchanged and info.version == 9


def test_push_chunks_read_back_as_protobuf():
    request = pb.PushRequest(max_staleness=2)
    request.updates.add(name="w", kind=pb.Update.APPLY_GRADIENT)
    assert pb.PushChunk.FromString(
        wire.push_chunk_request(request)).request == request
    data = np.arange(1000, dtype=np.float32)
    for index, offset in ((0, 0), (3, 4000), (200, (1 << 33) + 1)):
        chunk = pb.PushChunk.FromString(
            wire.push_chunk(index, offset, memoryview(data).cast("B")))
        assert (chunk.index, chunk.offset) == (index, offset)
        assert chunk.data == data.tobytes()
