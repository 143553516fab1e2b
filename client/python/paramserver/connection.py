"""A connection to one parameter server, and the calls variables make."""

import sys
import threading
import uuid

import grpc
import numpy as np

from paramserver import dtypes
from paramserver import errors
from paramserver import memory
from paramserver import wire
from paramserver_pb import parameter_server_pb2 as pb
from paramserver_pb import parameter_server_pb2_grpc as pb_grpc

# Values up to this size come back inline from Pull; larger ones stream in
# chunks (PullChunks), as the C++ client does.
_MAX_INLINE_BYTES = 4 << 20
_CHUNK_BYTES = 4 << 20
# One Pull response's inline values, at most: glibc keeps freed blocks up to
# 32 MiB for reuse (with keep_freed_memory()); larger ones are fresh pages.
_MAX_PULL_BATCH_BYTES = 16 << 20
_SERVICE = "/paramserver.rpc.ParameterServer/"


class Connection:
    """A channel to the server at `address` (HOST:PORT): plaintext, or TLS
    with `tls` (a tls.TlsOptions).

    `token`, when given, goes with every call as "authorization: Bearer
    <token>". `timeout` (seconds) bounds each call; None waits as long as
    the call takes.
    """

    def __init__(self, address, token=None, timeout=60.0, expected=None,
                 tls=None):
        """`expected` = (index, count, job or None): the place this server
        must hold in its job (ps-expected-shard metadata); a server at
        another place refuses every call with FAILED_PRECONDITION."""
        self.address = address
        self.timeout = timeout
        metadata = [("authorization", "Bearer " + token)] if token else []
        if expected is not None:
            index, count, job = expected
            metadata.append(("ps-expected-shard", "%d/%d" % (index, count)))
            if job:
                metadata.append(("ps-expected-job", job))
        self._metadata = tuple(metadata)
        self._closed = False
        options = [("grpc.max_receive_message_length", -1),
                   ("grpc.max_send_message_length", -1)]
        if tls is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            self._channel = grpc.secure_channel(address, tls.credentials(),
                                                options=options)
        self._stub = pb_grpc.ParameterServerStub(self._channel)
        # The data plane's large messages, read and written by wire.py
        # (None: gRPC hands over and takes the serialized bytes).
        self._raw_pull = self._channel.unary_unary(
            _SERVICE + "Pull",
            request_serializer=pb.PullRequest.SerializeToString,
            response_deserializer=None)
        self._raw_pull_chunks = self._channel.unary_stream(
            _SERVICE + "PullChunks",
            request_serializer=pb.PullChunksRequest.SerializeToString,
            response_deserializer=None)
        self._raw_push_chunks = self._channel.stream_unary(
            _SERVICE + "PushChunks", request_serializer=None,
            response_deserializer=pb.PushResponse.FromString)

    def close(self):
        self._closed = True
        self._channel.close()

    def _check_open(self):
        if self._closed:
            raise errors.ParameterServerError(
                "The connection to %s is closed (paramserver.connect() was "
                "called again, or close()). Variables belong to the "
                "connection they were made on: get them again with "
                "get_variable." % self.address)

    def call(self, method, request):
        """A unary call; a failure raises the matching errors exception."""
        self._check_open()
        try:
            return getattr(self._stub, method)(
                request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None

    def pull(self, items):
        """Pulls [(name, known_version) or (name, known_version, nbytes)]:
        per item (info, value or None when unchanged). A value is a
        read-only bytes-like view over the bytes received (a memoryview
        into the response, or a buffer a streamed value was written into).

        `nbytes`, the value's expected size, lets the items go in several
        Pull calls of at most 16 MiB each, at once: large responses would
        be fresh memory on every call."""
        self._check_open()
        batches, batch, batch_bytes = [], [], 0
        for index, item in enumerate(items):
            nbytes = item[2] if len(item) > 2 else 0
            inline = nbytes if nbytes <= _MAX_INLINE_BYTES else 0
            if batch and batch_bytes + inline > _MAX_PULL_BATCH_BYTES:
                batches.append(batch)
                batch, batch_bytes = [], 0
            batch.append(index)
            batch_bytes += inline
        if batch:
            batches.append(batch)
        futures = []
        for batch in batches:
            request = pb.PullRequest(max_inline_bytes=_MAX_INLINE_BYTES)
            for index in batch:
                request.items.add(name=items[index][0],
                                  known_version=items[index][1])
            futures.append(self._raw_pull.future(
                request, timeout=self.timeout, metadata=self._metadata))
        results = [None] * len(items)
        for batch, future in zip(batches, futures):
            try:
                pulled = wire.parse_pull_response(future.result())
            except grpc.RpcError as error:
                raise errors.translate(error, self.address) from None
            except wire.WireError as error:
                raise errors.ParameterServerError(
                    "A Pull response does not parse: %s" % error,
                    grpc.StatusCode.DATA_LOSS) from None
            if len(pulled) != len(batch):
                raise errors.ParameterServerError(
                    "The server answered %d values for %d variables." %
                    (len(pulled), len(batch)), grpc.StatusCode.DATA_LOSS)
            for index, answer in zip(batch, pulled):
                if answer.unchanged:
                    results[index] = (answer.info, None)
                elif answer.streamed:
                    results[index] = self._pull_streamed(*items[index][:2])
                else:
                    results[index] = (answer.info, answer.value)
        return results

    def _pull_streamed(self, name, known):
        request = pb.PullChunksRequest(name=name, known_version=known,
                                       chunk_bytes=_CHUNK_BYTES)
        info, value, filled = None, None, 0
        try:
            for raw in self._raw_pull_chunks(
                    request, timeout=self.timeout, metadata=self._metadata):
                first, unchanged, offset, data = wire.parse_value_chunk(raw)
                if info is None:
                    info = first
                    if info is None:
                        raise wire.WireError("the first chunk has no info")
                    if unchanged:
                        return info, None
                    value = _RECEIVE_BUFFERS.get(_nbytes(info))
                    writer = np.frombuffer(value, np.uint8)
                if offset != filled or filled + len(data) > len(value):
                    raise errors.ParameterServerError(
                        "A chunk of %s arrived out of order." % name,
                        grpc.StatusCode.DATA_LOSS)
                writer[filled:filled + len(data)] = np.frombuffer(data,
                                                                  np.uint8)
                filled += len(data)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None
        except wire.WireError as error:
            raise errors.ParameterServerError(
                "A chunk of %s does not parse: %s" % (name, error),
                grpc.StatusCode.DATA_LOSS) from None
        writer = None  # The value's only holder is the caller's now.
        if info is None or filled != len(value):
            raise errors.ParameterServerError(
                "The value of %s arrived incomplete." % name,
                grpc.StatusCode.DATA_LOSS)
        return info, value

    def push(self, updates, optimizer=None, max_staleness=0, push_id=None):
        """Applies [(name, kind, value bytes, base_version or None)] all or
        nothing; returns the variables' infos. Values over 4 MiB in all go
        in 4 MiB chunks (PushChunks), each one copy of the caller's bytes.
        `push_id` (at most 64 bytes; None: a random one, as the C++ client
        makes) names the push: a server that applied it answers a repeat
        with the first answer and applies nothing again."""
        self._check_open()
        request = pb.PushRequest(max_staleness=max_staleness,
                                 push_id=new_push_id() if push_id is None
                                 else push_id)
        total = 0
        for name, kind, value, base_version in updates:
            update = request.updates.add(name=name, kind=kind)
            if base_version is not None:
                update.base_version = base_version
            total += memoryview(value).nbytes
        if optimizer is not None:
            request.optimizer.CopyFrom(optimizer)
        if total <= _MAX_INLINE_BYTES:
            for update, (_, _, value, _) in zip(request.updates, updates):
                update.value = bytes(value)
            return list(self.call("Push", request).variables)
        return self._push_streamed(request, [u[2] for u in updates])

    def gather_rows(self, name, ids):
        """The rows `ids` (int64 array) of variable `name`: (info, bytes in
        the ids' order), every row read at that one version."""
        request = pb.GatherRowsRequest(name=name)
        request.ids.extend(ids.tolist())
        response = self.call("GatherRows", request)
        return response.variable, response.rows

    def lookup_sparse(self, name, ids, bags):
        """LookupSparse: one pooled row per bag of `ids` (pb.Bags);
        (info, rows bytes)."""
        request = pb.LookupSparseRequest(name=name, bags=bags)
        request.ids.extend(ids.tolist())
        response = self.call("LookupSparse", request)
        return response.variable, response.rows

    def push_rows(self, name, kind, ids, rows, optimizer=None,
                  base_version=None, max_staleness=0, push_id="",
                  bags=None):
        """Writes the rows `ids` of variable `name` (kind ASSIGN,
        ASSIGN_ADD or APPLY_GRADIENT with `optimizer`) all or nothing;
        returns its info after the update. `push_id` as push()'s, but
        empty means none (as the C++ client's PushRows)."""
        request = pb.PushRowsRequest(name=name, kind=kind, rows=bytes(rows),
                                     max_staleness=max_staleness,
                                     push_id=push_id or "")
        if base_version is not None:
            request.base_version = base_version
        if bags is not None:
            request.bags.CopyFrom(bags)
        request.ids.extend(ids.tolist())
        if optimizer is not None:
            request.optimizer.CopyFrom(optimizer)
        return self.call("PushRows", request).variable

    def _push_streamed(self, request, values):
        def chunks():
            yield wire.push_chunk_request(request)
            for index, value in enumerate(values):
                view = memoryview(value).cast("B")
                for offset in range(0, len(view), _CHUNK_BYTES):
                    yield wire.push_chunk(index, offset,
                                          view[offset:offset + _CHUNK_BYTES])
        try:
            response = self._raw_push_chunks(chunks(), timeout=self.timeout,
                                             metadata=self._metadata)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None
        return list(response.variables)


def new_push_id():
    """A random 128-bit push id, 32 hex digits (the C++ client's
    NewPushId)."""
    return uuid.uuid4().hex


class _ReceiveBuffers:
    """Buffers (bytearrays) that streamed values are written into, kept for
    reuse once nothing outside holds them: a fresh buffer of tens of MB
    costs a page fault per 4 KB on first touch, more than receiving into
    it. At most `max_bytes` are kept; a buffer still viewed by an array is
    never handed out again."""

    def __init__(self, max_bytes):
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._buffers = []  # Least recently used first.

    def _free(self, i):
        # Free: referenced only by the list (and getrefcount's argument).
        return sys.getrefcount(self._buffers[i]) == 2

    def get(self, nbytes):
        with self._lock:
            for i in range(len(self._buffers)):
                if len(self._buffers[i]) == nbytes and self._free(i):
                    self._buffers.append(self._buffers.pop(i))
                    return self._buffers[-1]
        buffer = bytearray(nbytes)
        if nbytes < _MIN_KEPT_BYTES:
            return buffer
        with self._lock:
            self._buffers.append(buffer)
            kept = sum(len(b) for b in self._buffers)
            i = 0
            while kept > self._max_bytes and i < len(self._buffers) - 1:
                if self._free(i):
                    kept -= len(self._buffers.pop(i))
                else:
                    i += 1
        return buffer


_MIN_KEPT_BYTES = 1 << 20
_RECEIVE_BUFFERS = _ReceiveBuffers(max_bytes=1 << 30)


def _nbytes(info):
    return int(np.prod(info.shape.dims, dtype=np.int64)) * \
        dtypes.from_enum(info.dtype).size


_default = None
_default_lock = threading.Lock()


def connect(address, token=None, timeout=60.0, job=None, tls=None,
            keep_freed_memory=True):
    """Makes the server `address` ("HOST:PORT"), or the job's servers (a
    list, in the order of their --shard_index), what every get_variable
    talks to; returns the Cluster. `tls`: a TlsOptions for servers started
    with --tls_cert (plaintext without). `keep_freed_memory`: tune this
    process's malloc to reuse freed memory (memory.py says why and what it
    changes).
    """
    from paramserver import cluster  # pylint: disable=import-outside-toplevel
    global _default
    if keep_freed_memory:
        memory.keep_freed_memory()
    addresses = [address] if isinstance(address, str) else list(address)
    connected = cluster.Cluster(addresses, token=token, timeout=timeout,
                                job=job, tls=tls)
    with _default_lock:
        old, _default = _default, connected
    if old is not None:
        old.close()
    return connected


def default_connection():
    with _default_lock:
        if _default is None:
            raise RuntimeError(
                "Not connected: call paramserver.connect(\"HOST:PORT\") first.")
        return _default
