"""Relying parties' keys bound to client certificates: a leaked key is useless without the
private key of the certificate it was bound to, which never leaves its holder's machine.

The ledger keeps only a certificate's SHA-256 fingerprint (of its DER). Whether certificates are
checked at all is the server's setting (the API checks them only where its TLS verifies client
certificates against a CA: ``OPTINFACE_TLS_CLIENT_CA``); the rule itself is here, next to the
keys, so the CLI and the API bind and compare alike.
"""

from __future__ import annotations

import hmac

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import RELYING_PARTIES, Actor, Role

REFUSAL_REASON = "client_certificate"
"""How a refusal by certificate is tallied in the audit log (never the certificate itself)."""


def certificate_sha256(pem: str) -> str:
    """The SHA-256 fingerprint (hex) of the first certificate in ``pem``, or
    :class:`InvalidRequest` if it holds none."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise InvalidRequest("client_cert_pem is not a PEM X.509 certificate") from error
    return certificate.fingerprint(hashes.SHA256()).hex()


def binding_for(role: Role, pem: str | None, *, required: bool) -> str | None:
    """The fingerprint a new key of ``role`` is bound to. Only a relying party's key is bound
    (no other role's key is checked, so a binding there would promise what nothing keeps), and
    must be when ``required``: an unbound one would be made only to be refused at each use."""
    if pem is None:
        if required and role in RELYING_PARTIES:
            raise InvalidRequest(f"a {role} key must be bound to its client certificate"
                                 " where the server verifies client certificates")
        return None
    if role not in RELYING_PARTIES:
        raise InvalidRequest("only researcher and verifier keys are bound to a client"
                             f" certificate, not {role} keys")
    return certificate_sha256(pem)


def admits(actor: Actor, presented_sha256: str | None) -> bool:
    """Whether ``actor`` may act over a connection that presented the CA-verified certificate
    ``presented_sha256`` (None: no certificate): any role but a relying party's may; a relying
    party's key only with the very certificate it is bound to, so an unbound one never."""
    if actor.role not in RELYING_PARTIES:
        return True
    bound = actor.client_cert_sha256
    return bound is not None and presented_sha256 is not None and hmac.compare_digest(
        bound, presented_sha256)
