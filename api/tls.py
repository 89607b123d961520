"""HTTPS for ``optinface serve``: the server's TLS context, made once from the settings.

TLS 1.2 is the floor, set on the context rather than left to OpenSSL's configuration, which
differs between machines. With ``OPTINFACE_TLS_CLIENT_CA`` the server asks every client for a
certificate and verifies one sent against that CA (a certificate of another CA fails the
handshake) but lets a client without one in: the portal's and the reviewers' browsers have none.
Whether a request may go on without one is the API guard's decision (:mod:`api.deps`): a
relying party's key needs the certificate it is bound to.
"""

from __future__ import annotations

import ssl
from pathlib import Path

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


def _no_password() -> bytes:
    """An encrypted private key fails to load instead of OpenSSL asking on the terminal."""
    return b""


def server_context(*, cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """The context ``serve`` listens with; :class:`ssl.SSLError` (an :class:`OSError`) when a
    file is not what it should be, which the settings check first (:mod:`api.settings`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.load_cert_chain(cert, key, password=_no_password)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
