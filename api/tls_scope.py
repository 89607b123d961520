"""The ASGI TLS extension, which uvicorn does not give: the client's certificate in the scope.

uvicorn (0.54) builds an HTTP request's scope without ``extensions["tls"]``, so the app cannot
see the certificate a client presented, and a relying party's key could not be tied to it
(:mod:`consent.client_certificates`). :class:`TlsH11Protocol` is uvicorn's h11 protocol (the
one ``serve`` names, as ``auto`` does here, httptools not being installed) reading the peer's
certificate once per connection in ``connection_made``, which asyncio calls after the
handshake, and giving every request of the connection the extension
(https://asgi.readthedocs.io/en/latest/specs/tls.html) through the app it runs. What Python's
:mod:`ssl` does not tell is None (``server_cert``, ``cipher_suite``), and the chain is the
client's own certificate only. A certificate the CA did not verify never gets here: it fails
the handshake (:func:`api.tls.server_context`).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from cryptography import x509
from starlette.types import Scope
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable
from uvicorn._types import Scope as UvicornScope
from uvicorn.protocols.http.h11_impl import H11Protocol

from optinface.consent.client_certificates import certificate_sha256


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The extension's fields for the connection ``ssl_object`` ended the handshake of."""
    der = ssl_object.getpeercert(binary_form=True)
    version = ssl_object.version()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": x509.load_der_x509_certificate(der).subject.rfc4514_string()
        if der else None,
        "client_cert_error": None,  # a certificate that failed verification ended the handshake
        "tls_version": ssl.TLSVersion[version.replace(".", "_")].value if version else None,
        "cipher_suite": None,
    }


def with_tls(app: ASGI3Application, tls: dict[str, Any]) -> ASGI3Application:
    """``app``, each request's scope given ``tls`` as its TLS extension."""

    async def app_with_tls(scope: UvicornScope, receive: ASGIReceiveCallable,
                           send: ASGISendCallable) -> None:
        # An HTTP scope (this protocol runs no other); uvicorn's TypedDicts would refuse a
        # ``tls`` extension for typing its values as dict[object, object].
        cast("dict[str, Any]", scope).setdefault("extensions", {})["tls"] = tls
        await app(scope, receive, send)

    return app_with_tls


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, its requests over TLS carrying the ASGI TLS extension."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = with_tls(self.app, tls_extension(ssl_object))


def presented_certificate_sha256(scope: Scope) -> str | None:
    """The fingerprint of the client certificate the request's connection presented, None if
    it presented none (or is not over TLS)."""
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain")
    return certificate_sha256(chain[0]) if chain else None
