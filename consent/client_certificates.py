"""Relying parties' keys bound to client certificates: a leaked key is useless without the
private key of the certificate it was bound to, which never leaves its holder's machine.

The ledger keeps only a certificate's SHA-256 fingerprint (of its DER). Whether certificates are
checked at all is the server's setting (the API checks them only where its TLS verifies client
certificates against a CA: ``OPTINFACE_TLS_CLIENT_CA``); the rule itself is here, next to the
keys, so the CLI and the API bind and compare alike.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import RELYING_PARTIES, Actor, Role

REFUSAL_REASON = "client_certificate"
"""How a refusal by certificate is tallied in the audit log (never the certificate itself)."""


def certificate_sha256(pem: str) -> str:
    """The SHA-256 fingerprint (hex) of the first certificate in ``pem``, or
    :class:`InvalidRequest` if it holds none."""
    return der_sha256(_certificate(pem).public_bytes(Encoding.DER))


def der_sha256(der: bytes) -> str:
    """A certificate's fingerprint from its DER bytes: the one definition, for the key bound
    to it and for the connection that presents it (they must compare equal)."""
    return hashlib.sha256(der).hexdigest()


def binding_for(role: Role, pem: str | None, *, client_ca_pem: bytes | None) -> str | None:
    """The fingerprint a new key of ``role`` is bound to. Only a relying party's key is bound
    (no other role's key is checked, so a binding there would promise what nothing keeps).

    ``client_ca_pem``: the CA bundle the server verifies client certificates against (None:
    it verifies none). Where given, a relying party's key must be bound (an unbound one would
    be made only to be refused at each use), and to a certificate a CA of the bundle issued
    (directly) for client authentication, where its extended key usage says: any other could
    never open a connection the key works over, or was made for another use."""
    if pem is None:
        if client_ca_pem is not None and role in RELYING_PARTIES:
            raise InvalidRequest(f"a {role} key must be bound to its client certificate"
                                 " where the server verifies client certificates")
        return None
    if role not in RELYING_PARTIES:
        raise InvalidRequest("only researcher and verifier keys are bound to a client"
                             f" certificate, not {role} keys")
    certificate = _certificate(pem)
    if client_ca_pem is not None:
        _issued_for_clients(certificate, x509.load_pem_x509_certificates(client_ca_pem))
    return der_sha256(certificate.public_bytes(Encoding.DER))


def _certificate(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise InvalidRequest("client_cert_pem is not a PEM X.509 certificate") from error


def _issued_for_clients(certificate: x509.Certificate, authorities: list[x509.Certificate]) -> None:
    if not any(_issued_by(certificate, authority) for authority in authorities):
        raise InvalidRequest("client_cert_pem is not issued by the client CA the server"
                             " verifies client certificates against")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        raise InvalidRequest("client_cert_pem is not a certificate for client authentication"
                             " (its extended key usage lacks clientAuth)")


def _issued_by(certificate: x509.Certificate, authority: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def admits(actor: Actor, presented_sha256: str | None) -> bool:
    """Whether ``actor`` may act over a connection that presented the CA-verified certificate
    ``presented_sha256`` (None: no certificate): any role but a relying party's may; a relying
    party's key only with the very certificate it is bound to, so an unbound one never."""
    if actor.role not in RELYING_PARTIES:
        return True
    bound = actor.client_cert_sha256
    return bound is not None and presented_sha256 is not None and hmac.compare_digest(
        bound, presented_sha256)
