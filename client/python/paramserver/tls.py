"""TLS to the servers, as the C++ client's ClientTlsOptions."""

import grpc


class TlsOptions:
    """PEM contents (bytes or str) for TLS and mutual TLS.

    `root_certs`: the CAs the server's certificate must chain to (None uses
    gRPC's default roots). `cert_chain` and `private_key`: this client's
    certificate and its key, for a server that asks for one (ps_server
    --tls_client_ca); both or neither.
    """

    def __init__(self, root_certs=None, cert_chain=None, private_key=None):
        if (cert_chain is None) != (private_key is None):
            raise ValueError("A client certificate needs its key, and a key "
                             "its certificate.")
        self.root_certs = _as_bytes(root_certs)
        self.cert_chain = _as_bytes(cert_chain)
        self.private_key = _as_bytes(private_key)

    @classmethod
    def from_files(cls, ca_path=None, cert_path=None, key_path=None):
        """Reads the PEM files, as psctl's --tls_ca, --tls_cert and
        --tls_key; a None or empty path leaves its part unset."""
        return cls(root_certs=_read(ca_path), cert_chain=_read(cert_path),
                   private_key=_read(key_path))

    def credentials(self):
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certs, private_key=self.private_key,
            certificate_chain=self.cert_chain)


def _as_bytes(pem):
    return pem.encode() if isinstance(pem, str) else pem


def _read(path):
    if not path:
        return None
    with open(path, "rb") as pem:
        return pem.read()
