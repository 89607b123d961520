"""HTTPS for ``optinface serve``: the TLS context of each port it listens on, made once from
the settings.

TLS 1.2 is the floor, set on the context rather than left to OpenSSL's configuration, which
differs between machines. With ``OPTINFACE_TLS_CLIENT_CA`` alone the server's one port asks
every client for a certificate and verifies one sent against that CA (a certificate of another
CA fails the handshake) but lets a client without one in: the portal's and the reviewers'
browsers have none. With ``OPTINFACE_TLS_CLIENT_PORT`` as well, only that port asks, and
requires one; the main port asks no one, so a browser holding other client certificates is
never prompted by it. Whether a request may go on is the API guard's decision
(:mod:`api.deps`): a relying party's key needs the certificate it is bound to, which a
connection to the main port then never presents.

The files are read here, by ``serve`` before it makes anything (:func:`contexts_for`), and the
client CA bundle also by whatever binds a key under it (``keys create``, read once when the app
is built for ``POST /v1/keys``: :func:`client_ca_pem`): the settings say only which files go
together, so a command that never listens (``keys list``) runs under an account that cannot
read them.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from optinface.api.settings import ApiSettings

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


class TlsFileRefused(ValueError):
    """A TLS file of the settings that the server cannot use, said as ``VARIABLE: why``."""


def _no_password() -> bytes:
    """An encrypted private key fails to load instead of OpenSSL asking on the terminal."""
    return b""


def server_context(*, cert: Path, key: Path, client_ca: Path | None,
                   required: bool = False) -> ssl.SSLContext:
    """The context ``serve`` listens with, asking for a client certificate of ``client_ca`` if
    given, and refusing a client without one if ``required``; :class:`ssl.SSLError` (an
    :class:`OSError`) when a file is not what it should be, which :func:`contexts_for` says in
    words."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.load_cert_chain(cert, key, password=_no_password)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return context


def contexts_for(settings: ApiSettings) -> dict[int, ssl.SSLContext | None]:
    """Each port ``serve`` listens on, the main one first, with the very context it listens
    with (None: plain HTTP), or :class:`TlsFileRefused` for the first file that does not hold:
    each is tried by OpenSSL itself, which reads more than a certificate parser checks (a CA
    bundle's CRL blocks), so a file that passes here cannot fail once the server says it
    listens.

    The relying parties' port (``OPTINFACE_TLS_CLIENT_PORT``) requires a certificate rather
    than asking for one: it is theirs alone and each must present its key's certificate
    anyway, so a client the CA did not certify gets nothing there, not even the pages."""
    cert, key, ca = settings.tls_cert, settings.tls_key, settings.tls_client_ca
    if cert is None or key is None:  # the settings refuse one without the other, and a CA alone
        return {settings.port: None}
    _certificates_in("OPTINFACE_TLS_CERT", cert)
    held = _contents("OPTINFACE_TLS_KEY", key)
    try:
        asking_none = server_context(cert=cert, key=key, client_ca=None)
    except OSError as error:
        problem = ("is encrypted: serve needs it unencrypted, and asks no password"
                   if b"ENCRYPTED" in held else
                   "is not the PEM private key of the certificate in OPTINFACE_TLS_CERT")
        raise TlsFileRefused(f"OPTINFACE_TLS_KEY: {key} {problem}") from error
    if ca is None:
        return {settings.port: asking_none}
    _certificates_in("OPTINFACE_TLS_CLIENT_CA", ca)
    client_port = settings.tls_client_port  # the settings refuse one without the CA
    try:
        asking = server_context(cert=cert, key=key, client_ca=ca, required=client_port is not None)
    except OSError as error:
        raise TlsFileRefused(f"OPTINFACE_TLS_CLIENT_CA: {ca} holds a block OpenSSL cannot"
                             " load as a CA certificate or revocation list") from error
    if client_port is None:
        return {settings.port: asking}
    return {settings.port: asking_none, client_port: asking}


def client_ca_pem(settings: ApiSettings) -> bytes | None:
    """The CA bundle the server verifies client certificates against (None: it verifies none),
    which a relying party's key is bound under (:func:`consent.client_certificates.binding_for`),
    or :class:`TlsFileRefused` when it cannot be read or holds no certificate."""
    ca = settings.tls_client_ca
    return None if ca is None else _certificates_in("OPTINFACE_TLS_CLIENT_CA", ca)


def _contents(setting: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise TlsFileRefused(f"{setting}: cannot read {path}: {error.strerror}") from error


def _certificates_in(setting: str, path: Path) -> bytes:
    """The file's bytes once they hold a PEM certificate, or :class:`TlsFileRefused`."""
    held = _contents(setting, path)
    try:
        x509.load_pem_x509_certificates(held)
    except ValueError as error:
        raise TlsFileRefused(f"{setting}: {path} holds no PEM certificate") from error
    return held
