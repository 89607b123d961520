"""The client's certificate in the request's scope, which uvicorn does not put there.

uvicorn (0.47 and later, as pinned) builds an HTTP request's scope without the certificate the
client presented, so a relying party's key could not be tied to it
(:mod:`consent.client_certificates`). :class:`TlsH11Protocol` is uvicorn's h11 protocol (the
one ``serve`` names over TLS, as ``auto`` does here, httptools not being installed) hashing
the peer's certificate once per connection in ``connection_made``, which asyncio calls after
the handshake, and giving every request of the connection that fingerprint under
:data:`EXTENSION`. Only the fingerprint: it is all the guard compares, and hashing the DER
bytes OpenSSL verified cannot fail where parsing them could (a certificate OpenSSL accepts and
another parser refuses would end the connection in a traceback). A certificate the CA did not
verify never gets here: it fails the handshake (:func:`api.tls.server_context`).
"""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from optinface.consent.client_certificates import der_sha256

EXTENSION = "optinface.client_cert_sha256"
"""The scope extension holding the connection's client certificate's SHA-256 (hex, of its
DER, as :func:`consent.client_certificates.certificate_sha256` computes it), None without
one."""


def with_certificate(app: ASGIApp, sha256: str | None) -> ASGIApp:
    """``app``, each request's scope given ``sha256`` as :data:`EXTENSION`."""

    async def app_with_certificate(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("extensions", {})[EXTENSION] = sha256
        await app(scope, receive, send)

    return app_with_certificate


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, its requests over TLS carrying their connection's client
    certificate's fingerprint."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            sha256 = der_sha256(der) if der else None
            self.app = with_certificate(self.app, sha256)


def presented_certificate_sha256(scope: Scope) -> str | None:
    """The fingerprint of the client certificate the request's connection presented, None if
    it presented none (or is not over TLS)."""
    return cast("str | None", scope.get("extensions", {}).get(EXTENSION))
