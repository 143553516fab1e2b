"""The data plane's messages read and written at the wire level, so values
are not copied by protobuf on the way: a received value is a memoryview
into the message gRPC handed over, and a sent chunk is one join of a small
header and the caller's bytes.

Only the messages whose size is the values' are handled here (PullResponse,
ValueChunk, PushChunk); everything else goes through the generated classes.
Field numbers are proto/parameter_server.proto's.
"""

from paramserver_pb import parameter_server_pb2 as pb

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """A message that does not parse."""


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf, start, end):
    """(number, value) of each field in buf[start:end]: an int for varints
    and fixed fields, (begin, end) for length-delimited ones."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire_type == _LENGTH:
            size, pos = _varint(buf, pos)
            value = (pos, pos + size)
            pos += size
        elif wire_type == _FIXED64:
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire_type == _FIXED32:
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError("unknown wire type %d" % wire_type)
        if pos > end:
            raise WireError("a field runs past its message")
        yield number, value


class Pulled:
    """One PulledVariable: info (VariableInfo), unchanged, streamed, and
    value, a memoryview into the received message (None when absent)."""
    __slots__ = ("info", "unchanged", "streamed", "value")

    def __init__(self):
        self.info = pb.VariableInfo()
        self.unchanged = False
        self.streamed = False
        self.value = None


def parse_pull_response(raw):
    """PullResponse bytes -> [Pulled], values viewing `raw`."""
    view = memoryview(raw)
    results = []
    for number, span in _fields(raw, 0, len(raw)):
        if number != 1 or not isinstance(span, tuple):
            continue  # Unknown fields are skipped, as protobuf skips them.
        pulled = Pulled()
        for field, value in _fields(raw, span[0], span[1]):
            if field == 1 and isinstance(value, tuple):
                pulled.info.MergeFromString(view[value[0]:value[1]])
            elif field == 2 and isinstance(value, int):
                pulled.unchanged = bool(value)
            elif field == 3 and isinstance(value, int):
                pulled.streamed = bool(value)
            elif field == 4 and isinstance(value, tuple):
                pulled.value = view[value[0]:value[1]]
        if pulled.value is None and not (pulled.unchanged or pulled.streamed):
            pulled.value = view[0:0]  # An empty value is not on the wire.
        results.append(pulled)
    return results


def parse_value_chunk(raw):
    """ValueChunk bytes -> (VariableInfo or None, unchanged, offset, data
    as a memoryview into `raw`)."""
    view = memoryview(raw)
    info, unchanged, offset, data = None, False, 0, view[0:0]
    for number, value in _fields(raw, 0, len(raw)):
        if number == 1 and isinstance(value, tuple):
            info = pb.VariableInfo.FromString(view[value[0]:value[1]])
        elif number == 2 and isinstance(value, int):
            unchanged = bool(value)
        elif number == 3 and isinstance(value, int):
            offset = value
        elif number == 4 and isinstance(value, tuple):
            data = view[value[0]:value[1]]
    return info, unchanged, offset, data


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def push_chunk_request(request):
    """The first PushChunk: `request` (a PushRequest without values)."""
    body = request.SerializeToString()
    return b"\x0a" + _encode_varint(len(body)) + body


def push_chunk(index, offset, data):
    """A PushChunk carrying `data` (bytes-like) of value `index` at
    `offset`: one copy of the data, into the message."""
    header = b""
    if index:
        header += b"\x10" + _encode_varint(index)
    if offset:
        header += b"\x18" + _encode_varint(offset)
    header += b"\x22" + _encode_varint(len(data))
    return b"".join((header, data))
