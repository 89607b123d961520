"""The web addresses the settings name: the base of the links handed to people, and the origins
a passkey may sign from.

Both are checked before anything runs: a link to ``javascript:alert(1)`` would only show its
harm in a person's browser, and an origin no browser ever sends would refuse every passkey
without a word about why.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f]")
"""urlsplit drops tabs and newlines silently, so a value holding them is refused first."""

DEFAULT_PORTS = {"http": 80, "https": 443}


def _parts(url: str) -> tuple[SplitResult, int | None]:
    """The parts of an http(s) URL with a host and its port, or ValueError in plain words (never
    the value: the settings' refusals never print one)."""
    if _NOT_IN_A_URL.search(url):
        raise ValueError("holds a space or a control character")
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an http:// or https:// URL with a host")
    if parts.username is not None:
        raise ValueError("names a user (user@host): links and origins never carry one")
    try:
        port = parts.port  # urlsplit checks the port only when asked for it
    except ValueError as error:
        raise ValueError("its port is not a number from 0 to 65535") from error
    return parts, port


def require_base_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host and neither query nor fragment: every link
    is this base, a path and ``#secret`` (:func:`consent.passkeys` and the pages)."""
    parts, _ = _parts(url)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("has a query or a fragment: the links add their own path and"
                         " fragment to it")
    return url


def require_origin(origin: str) -> str:
    """``origin`` if it is one as a browser writes it in a passkey's clientDataJSON, compared
    as text: ``scheme://host[:port]``, lower case, no path, the scheme's default port left out;
    https, or http on localhost only (WebAuthn runs in secure contexts only)."""
    parts, port = _parts(origin)
    host = parts.hostname or ""
    if parts.scheme != "https" and host != "localhost":
        raise ValueError("not https: WebAuthn allows http on localhost only")
    shown_host = f"[{host}]" if ":" in host else host
    written = f"{parts.scheme}://{shown_host}" + (
        f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else "")
    if origin != written:
        raise ValueError("not an origin as a browser sends it: scheme://host[:port], lower"
                         " case, no path, no default port")
    return origin


def require_within(origin: str, rp_id: str) -> str:
    """``origin`` if its host is ``rp_id`` or a subdomain of it: a browser creates and uses a
    passkey for a relying party id only from such a page (WebAuthn's registrable domain
    suffix rule), so an origin outside it is one no passkey could ever sign from."""
    host = urlsplit(origin).hostname or ""
    if host != rp_id and not host.endswith(f".{rp_id}"):
        raise ValueError("an origin's host is neither the passkey relying party id"
                         " (OPTINFACE_PASSKEY_RP_ID) nor a subdomain of it: no browser would"
                         " sign from it for that id")
    return origin
