"""A connection to one parameter server, and the calls variables make."""

import threading

import grpc
import numpy as np

from paramserver import dtypes
from paramserver import errors
from paramserver_pb import parameter_server_pb2 as pb
from paramserver_pb import parameter_server_pb2_grpc as pb_grpc

# Values up to this size come back inline from Pull; larger ones stream in
# chunks (PullChunks), as the C++ client does.
_MAX_INLINE_BYTES = 4 << 20
_CHUNK_BYTES = 1 << 20


class Connection:
    """A channel to the server at `address` (HOST:PORT), plaintext.

    `token`, when given, goes with every call as "authorization: Bearer
    <token>". `timeout` (seconds) bounds each call; None waits as long as
    the call takes.
    """

    def __init__(self, address, token=None, timeout=60.0, expected=None):
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
        self._channel = grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", -1),
                              ("grpc.max_send_message_length", -1)])
        self._stub = pb_grpc.ParameterServerStub(self._channel)

    def close(self):
        self._channel.close()

    def call(self, method, request):
        """A unary call; a failure raises the matching errors exception."""
        try:
            return getattr(self._stub, method)(
                request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None

    def pull(self, names_and_versions):
        """Pulls [(name, known_version)]: per item (info, value bytes or
        None when unchanged), value bytes as received."""
        request = pb.PullRequest(max_inline_bytes=_MAX_INLINE_BYTES)
        for name, known in names_and_versions:
            request.items.add(name=name, known_version=known)
        response = self.call("Pull", request)
        results = []
        for (name, known), pulled in zip(names_and_versions,
                                         response.variables):
            if pulled.unchanged:
                results.append((pulled.variable, None))
            elif pulled.streamed:
                results.append(self._pull_streamed(name, known))
            else:
                results.append((pulled.variable, pulled.value))
        if len(results) != len(names_and_versions):
            raise errors.ParameterServerError(
                "The server answered %d values for %d variables." %
                (len(response.variables), len(names_and_versions)))
        return results

    def _pull_streamed(self, name, known):
        request = pb.PullChunksRequest(name=name, known_version=known,
                                       chunk_bytes=_CHUNK_BYTES)
        info, value, filled = None, None, 0
        try:
            for chunk in self._stub.PullChunks(
                    request, timeout=self.timeout, metadata=self._metadata):
                if info is None:
                    info = chunk.variable
                    if chunk.unchanged:
                        return info, None
                    value = bytearray(_nbytes(info))
                if chunk.offset != filled or \
                        filled + len(chunk.data) > len(value):
                    raise errors.ParameterServerError(
                        "A chunk of %s arrived out of order." % name,
                        grpc.StatusCode.DATA_LOSS)
                value[filled:filled + len(chunk.data)] = chunk.data
                filled += len(chunk.data)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None
        if info is None or filled != len(value):
            raise errors.ParameterServerError(
                "The value of %s arrived incomplete." % name,
                grpc.StatusCode.DATA_LOSS)
        return info, value

    def push(self, updates, optimizer=None, max_staleness=0):
        """Applies [(name, kind, value bytes, base_version or None)] all or
        nothing; returns the variables' infos. Values over 4 MiB in all go
        in 1 MiB chunks (PushChunks), as the C++ client sends them."""
        request = pb.PushRequest(max_staleness=max_staleness)
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

    def _push_streamed(self, request, values):
        def chunks():
            yield pb.PushChunk(request=request)
            for index, value in enumerate(values):
                view = memoryview(value).cast("B")
                for offset in range(0, len(view), _CHUNK_BYTES):
                    yield pb.PushChunk(
                        index=index, offset=offset,
                        data=bytes(view[offset:offset + _CHUNK_BYTES]))
        try:
            response = self._stub.PushChunks(chunks(), timeout=self.timeout,
                                             metadata=self._metadata)
        except grpc.RpcError as error:
            raise errors.translate(error, self.address) from None
        return list(response.variables)


def _nbytes(info):
    return int(np.prod(info.shape.dims, dtype=np.int64)) * \
        dtypes.from_enum(info.dtype).size


_default = None
_default_lock = threading.Lock()


def connect(address, token=None, timeout=60.0, job=None):
    """Makes the server `address` ("HOST:PORT"), or the job's servers (a
    list, in the order of their --shard_index), what every get_variable
    talks to; returns the Cluster."""
    from paramserver import cluster  # pylint: disable=import-outside-toplevel
    global _default
    addresses = [address] if isinstance(address, str) else list(address)
    connected = cluster.Cluster(addresses, token=token, timeout=timeout,
                                job=job)
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
