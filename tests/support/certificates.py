"""A small PKI for the TLS tests, made with ``cryptography``: a CA, a server certificate for
127.0.0.1 and localhost, client certificates it signs, and another CA's client certificate."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path

    @property
    def pair(self) -> tuple[str, str]:
        """As httpx2's ``cert=`` takes it."""
        return str(self.cert), str(self.key)

    @property
    def pem(self) -> str:
        return self.cert.read_text()


@dataclass(frozen=True)
class Authority:
    """A CA that signs certificates into ``folder``."""

    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    folder: Path

    @classmethod
    def create(cls, folder: Path, name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        certificate = (_builder(subject, subject, key.public_key())
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                      critical=True)
                       .sign(key, hashes.SHA256()))
        authority = cls(name, key, certificate, folder)
        authority.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return authority

    @property
    def cert(self) -> Path:
        return self.folder / f"{self.name}.pem"

    def issue(self, name: str, *, server: bool = False) -> Issued:
        """A leaf certificate for ``name``: a server's for 127.0.0.1 and localhost, else a
        client's."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(_name(name), self.certificate.subject, key.public_key())
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        certificate = (builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                       .sign(self.key, hashes.SHA256()))
        issued = Issued(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        issued.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        return issued


@dataclass(frozen=True)
class Pki:
    """What the TLS tests use: the clients' CA, the server, two clients and a stranger (a
    client certificate of another CA)."""

    ca: Authority
    server: Issued
    client_a: Issued
    client_b: Issued
    stranger: Issued


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = Authority.create(folder, "clients-ca")
    other = Authority.create(folder, "other-ca")
    return Pki(ca=ca, server=ca.issue("server", server=True), client_a=ca.issue("client-a"),
               client_b=ca.issue("client-b"), stranger=other.issue("stranger"))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name,
             public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1)))
