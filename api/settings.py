"""Configuration of the HTTP service: the consent core's settings plus listening, limits and CORS.

Built by :func:`load_settings` (or ``ApiSettings(...)`` in tests) and passed to
:func:`api.app.create_app`; nothing reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from optinface.api.web.i18n import Language
from optinface.consent.settings import ConsentSettings


class ApiSettings(ConsentSettings):
    """Everything ``optinface serve`` needs; ``OPTINFACE_*`` environment variables override."""

    model_config = SettingsConfigDict(env_prefix="OPTINFACE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # HTTPS: which files go together is checked here; the files themselves only by serve,
    # before it makes anything (api.tls.contexts_for), so other commands never read them.
    first_admin_key_file: Path | None = Field(
        default=None,
        description="Where a first run writes the first admin API key (a new 0600 file) instead"
                    " of printing it: for a server whose output a log keeps (a container, a"
                    " systemd unit), where a printed key would stay as long as the log.")

    tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) of the server: with OPTINFACE_TLS_KEY, serve speaks"
                    " HTTPS only, TLS 1.2 or later.")
    tls_key: Path | None = Field(
        default=None, validate_default=True,
        description="PEM private key (unencrypted) of OPTINFACE_TLS_CERT.")
    tls_client_ca: Path | None = Field(
        default=None, validate_default=True,
        description=(
            "PEM CA bundle that signs relying parties' client certificates: the server asks"
            " for one (on OPTINFACE_TLS_CLIENT_PORT if set, else on its one port, where"
            " browsers without one still get in) and refuses a researcher's or verifier's key"
            " without the certificate it is bound to."))
    tls_client_port: int | None = Field(
        default=None, ge=1, le=65535, validate_default=True,
        description=(
            "A second port, for relying parties, where the server asks for and requires a"
            " client certificate of OPTINFACE_TLS_CLIENT_CA; the main port then asks for none,"
            " so a person's browser holding other certificates is never prompted there."))

    # Per-key token bucket: a steady rate with a small burst, so a script cannot hammer the API.
    rate_per_second: float = Field(default=5.0, gt=0)
    rate_burst: int = Field(default=20, ge=1)
    # Per client address, before authenticating: a steady trickle of typos passes, guessing not.
    auth_failures_per_minute: float = Field(default=10.0, gt=0)
    auth_failure_burst: int = Field(default=10, ge=1)
    # Per client address, the anonymous passkey sign-in challenges (each a ledger row, written
    # on the serialised ledger, until the sweep): a person asks one per try, a script thousands.
    sign_in_challenges_per_minute: float = Field(default=10.0, gt=0)
    sign_in_challenge_burst: int = Field(default=10, ge=1)
    # Those limits count the connection's peer; only a proxy named here may say otherwise.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "The reverse proxies (IP addresses or CIDR networks, comma-separated) whose"
            " X-Forwarded-For and X-Forwarded-Proto are believed: the client address the"
            " per-client throttles count is then the one they forwarded, and the pages'"
            " cookies are Secure (the proxy ends TLS). Empty (the default): the connection's"
            " own peer, and those headers are ignored from anyone."))

    server_timing: bool = Field(
        default=False,
        description=(
            "Answer with a Server-Timing header (authentication, consent checks, embedding,"
            " search): for testers measuring the overhead; stage times say a little about the"
            " gallery searched, so it is off by default."
        ),
    )

    cors_origins: list[str] = Field(
        default=[], description="Explicit origins allowed by CORS; empty (the default) = CORS off."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description=(
            "Mark portal and dashboard cookies Secure. Unset: Secure where the server speaks"
            " TLS itself, listens off a loopback address or trusts a reverse proxy"
            " (OPTINFACE_TRUSTED_PROXIES): there the pages must be served over HTTPS."
        ),
    )
    session_hours: int = Field(default=8, ge=1, le=24 * 30,
                               description="Lifetime of a web-page session.")
    timezone: str = Field(
        default="America/Toronto",
        description="IANA time zone the pages show times and count days in (Québec by default).",
    )
    default_language: Language = Field(
        default=Language.EN,
        description="The pages' language for a reader whose browser names neither French nor"
        " English and who chose none (a Québec deployment sets fr: Charter of the French"
        " language).")

    @field_validator("host")
    @classmethod
    def _address_or_name(cls, host: str) -> str:
        """An IP address or a host name (RFC 1123), checked before serve makes anything."""
        if ip_of(host) is None and not _HOST_NAME.fullmatch(host):
            raise ValueError("not an IP address or a host name")
        return host

    @field_validator("tls_key")
    @classmethod
    def _key_with_its_certificate(cls, key: Path | None, info: ValidationInfo) -> Path | None:
        if "tls_cert" in info.data and (info.data["tls_cert"] is None) != (key is None):
            raise ValueError("OPTINFACE_TLS_CERT and OPTINFACE_TLS_KEY go together")
        return key

    @field_validator("tls_client_ca")
    @classmethod
    def _ca_of_a_tls_server(cls, ca: Path | None, info: ValidationInfo) -> Path | None:
        """Refused only where the pair is given whole and empty: with one half of it given,
        the missing other is the one problem to name (above)."""
        if ca is not None and "tls_key" in info.data and info.data["tls_key"] is None:
            raise ValueError("needs OPTINFACE_TLS_CERT and OPTINFACE_TLS_KEY: client"
                             " certificates are asked for over TLS only")
        return ca

    @field_validator("tls_client_port")
    @classmethod
    def _port_of_a_client_ca(cls, port: int | None, info: ValidationInfo) -> int | None:
        """Refused without the client CA, or on the main port's number; where the CA itself
        was refused (above), that is the one problem named."""
        if port is None or "tls_client_ca" not in info.data:
            return port
        if info.data["tls_client_ca"] is None:
            raise ValueError("needs OPTINFACE_TLS_CLIENT_CA: the port is where client"
                             " certificates are asked for")
        if port == info.data.get("port"):
            raise ValueError("is the main port (OPTINFACE_PORT or --port): the client port"
                             " must be another")
        return port

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, proxies: object) -> object:
        """The variable as uvicorn's ``--forwarded-allow-ips`` writes it: ``10.0.0.5,
        10.1.0.0/16``; blank is none."""
        if isinstance(proxies, str):
            return [item.strip() for item in proxies.split(",")] if proxies.strip() else []
        return proxies

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, proxies: list[str]) -> list[str]:
        """Each an IP address or a CIDR network without host bits, written as ``ipaddress``
        writes it. uvicorn takes anything else as a literal that no peer address ever equals
        (a typo would trust no one, and say nothing), and ``*`` as every peer, which would let
        any client choose the address its failures are counted under."""
        networks: list[str] = []
        for place, item in enumerate(proxies, start=1):
            try:
                networks.append(str(ipaddress.ip_network(item)))
            except ValueError:
                raise ValueError(
                    f"item {place} of {len(proxies)} is not an IP address or a CIDR network"
                    " without host bits (10.0.0.5, 10.0.0.0/24, fd00::/8; never *)") from None
        return networks

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone!r}") from error
        return zone

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        """A wildcard would let any site drive a logged-in browser against the API."""
        if "*" in origins:
            raise ValueError("cors_origins must list explicit origins, never '*'")
        return origins

    @property
    def secure_cookies(self) -> bool:
        """Whether the pages' cookies carry ``Secure``: a session id must never cross a network
        in clear, and only a loopback listener keeps it on the machine; where this server
        speaks TLS itself, its pages are https and their cookies Secure wherever it listens.
        Where it trusts a reverse proxy, that proxy is there to end TLS in front of it (on the
        same host too, listening on loopback): the browser is on https, so the cookies are
        Secure (and ``__Host-``, :func:`api.web.auth.page_cookie`), whether or not the proxy
        also sends ``X-Forwarded-Proto``. A proxy serving plain HTTP is told with
        ``OPTINFACE_COOKIE_SECURE=false``."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return (self.tls_cert is not None or bool(self.trusted_proxies)
                or not is_loopback(self.host))

    @property
    def checks_client_certificates(self) -> bool:
        """Whether relying parties' keys need their client certificates (api.deps): only where
        TLS verifies them against the operator's CA."""
        return self.tls_client_ca is not None

    @property
    def upload_limit_bytes(self) -> int:
        """The largest request body accepted: one image plus room for the form fields."""
        return self.max_image_bytes + FORM_OVERHEAD_BYTES


FORM_OVERHEAD_BYTES = 64 * 1024
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def unbracketed(host: str) -> str:
    """The host as the socket layer takes it: an IPv6 address without the brackets a URL puts
    around it (``[::1]`` -> ``::1``); any other host unchanged."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells (IPv6 bare or in brackets), or None for a name, which is
    never resolved."""
    try:
        return ipaddress.ip_address(unbracketed(host))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); a name is never resolved."""
    address = ip_of(host)
    return host == "localhost" or (address is not None and address.is_loopback)


ENV_PREFIX = "OPTINFACE_"


class SettingsRefused(ValueError):
    """Settings that are not valid, as :func:`settings_problems` names them."""


def settings_problems(error: ValidationError, *, flags: Collection[str] = ()) -> str:
    """Each refused setting by where it was given, with pydantic's reason: its command-line
    flag if one of ``flags`` (``--port``), else its environment variable; never the value
    given (a database URL may hold a password)."""

    def named(field: str) -> str:
        return f"--{field.replace('_', '-')}" if field in flags else ENV_PREFIX + field.upper()

    return "; ".join(
        f"{named(str(problem['loc'][0])) if problem['loc'] else 'settings'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False))


def load_settings(*, data_dir: Path | None = None, host: str | None = None,
                  port: int | None = None) -> ApiSettings:
    """Settings from the environment, command-line flags (``--data-dir``, serve's ``--host``
    and ``--port``) taking precedence when given; validated like the environment's.

    Raises:
        SettingsRefused: a setting is not valid, named by its flag where one gave it.
    """
    given: dict[str, Any] = {name: value for name, value in
                             {"data_dir": data_dir, "host": host, "port": port}.items()
                             if value is not None}
    try:
        return ApiSettings(**given)
    except ValidationError as error:
        raise SettingsRefused(settings_problems(error, flags=given)) from error
