"""How the server's answers become Python exceptions.

The reuse rules' errors are ValueErrors with TensorFlow's texts, as
tf.get_variable raises them; every error carries the gRPC status code as
`.code` (a grpc.StatusCode).
"""

import grpc


class ParameterServerError(RuntimeError):
    """Any other failure the server or the connection reports."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class VariableError(ValueError):
    """tf.get_variable's ValueError: reuse, shape and dtype mismatches."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class ServerUnavailableError(ConnectionError):
    """The server at `address` could not be reached."""

    def __init__(self, message, address, code=None):
        super().__init__(message)
        self.address = address
        self.code = code


_VALUE_ERRORS = (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND,
                 grpc.StatusCode.INVALID_ARGUMENT)


def translate(error, address):
    """The exception to raise for a grpc.RpcError from `address`."""
    code = error.code()
    details = error.details() or str(code)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ServerUnavailableError(
            "Parameter server %s is unavailable: %s" % (address, details),
            address, code)
    if code in _VALUE_ERRORS:
        return VariableError(details, code)
    return ParameterServerError("%s: %s" % (code.name, details), code)
