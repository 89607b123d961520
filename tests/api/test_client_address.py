"""Whom the per-client throttles count, through real ``optinface serve`` processes: the
connection's peer, unless ``OPTINFACE_TRUSTED_PROXIES`` names that peer as a reverse proxy.

Red team 6, finding 3: uvicorn's defaults believed ``X-Forwarded-For`` from 127.0.0.1, so a
local client (or anyone behind a TCP forwarder) sent a new address with each request and the
failed-authentication, sign-in challenge and erasure-receipt throttles never answered 429.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from optinface.api.security_headers import HSTS
from tests.support.console import console
from tests.support.server import inherited_environment
from tests.support.workers import Worker

WRONG_KEY = {"Authorization": "Bearer key_0000000000000000.wrong"}
BURST = 10
"""The default burst of both throttles (``OPTINFACE_AUTH_FAILURE_BURST``,
``OPTINFACE_SIGN_IN_CHALLENGE_BURST``), which these servers keep."""
PROXY = "127.0.0.2"
"""A loopback address of its own: the trusted proxy's connections come from it, everyone
else's from 127.0.0.1, to the same server."""


@contextmanager
def served(tmp_path: Path, **settings: str) -> Iterator[Worker]:
    """``optinface serve`` on 127.0.0.1, a new SQLite deployment in demo mode, with the
    ``OPTINFACE_*`` ``settings`` given and every other at its default."""
    environment = {**inherited_environment(), "OPTINFACE_DEMO_MODE": "true",
                   "OPENBLAS_NUM_THREADS": "1",
                   **{f"OPTINFACE_{name.upper()}": value for name, value in settings.items()}}
    worker = Worker(tmp_path / "var", environment).start()
    try:
        yield worker
    finally:
        worker.stop()


def _forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}


def _bad_keys(client: httpx2.Client, forwarded_for: list[str]) -> list[int]:
    """A wrong API key once per address, each claimed in ``X-Forwarded-For``."""
    return [client.get("/v1/purposes", headers={**WRONG_KEY, **_forwarded(address)}).status_code
            for address in forwarded_for]


def _spoofed(count: int, *, start: int = 1) -> list[str]:
    return [f"198.51.100.{n}" for n in range(start, start + count)]


def test_a_forwarded_address_from_a_peer_not_trusted_escapes_no_throttle(
    tmp_path: Path,
) -> None:
    """By default no peer is a proxy: a new address claimed with each request changes neither
    the failed authentications' budget (wrong keys, then an erasure receipt's code, the same
    budget) nor the sign-in challenges', and the claimed scheme sets no HSTS over HTTP."""
    with served(tmp_path) as worker, httpx2.Client(base_url=worker.url, timeout=30) as client:
        wrong = _bad_keys(client, _spoofed(BURST + 2))
        code = client.post("/portal/erasure-receipt", data={"code": "guess"},
                           headers=_forwarded("198.51.100.99"))
        challenges = [client.post("/v1/passkeys/sign-in-options",
                                  headers=_forwarded(address)).status_code
                      for address in _spoofed(BURST + 2, start=100)]
    assert wrong == [401] * BURST + [429] * 2
    assert code.status_code == 429, code.text
    assert challenges == [200] * BURST + [429] * 2
    assert "strict-transport-security" not in code.headers


def test_a_trusted_proxys_forwarded_address_is_the_one_counted(tmp_path: Path) -> None:
    """With ``OPTINFACE_TRUSTED_PROXIES`` naming the proxy, each address it forwards has its
    own budget, and its forwarded scheme is believed (HSTS); a client connecting from
    elsewhere still cannot choose its address."""
    with (served(tmp_path, trusted_proxies=f"192.0.2.0/24, {PROXY}") as worker,
          httpx2.Client(base_url=worker.url, timeout=30,
                       transport=httpx2.HTTPTransport(local_address=PROXY)) as proxy,
          httpx2.Client(base_url=worker.url, timeout=30) as direct):
        one_client = _bad_keys(proxy, ["198.51.100.1"] * (BURST + 1))
        another = _bad_keys(proxy, ["198.51.100.2"])
        health = proxy.get("/healthz", headers=_forwarded("198.51.100.3"))
        not_a_proxy = _bad_keys(direct, _spoofed(BURST + 1, start=10))
    assert one_client == [401] * BURST + [429]
    assert another == [401]
    assert health.headers["strict-transport-security"] == HSTS
    assert not_a_proxy == [401] * BURST + [429]


def test_behind_a_trusted_proxy_on_the_same_host_the_pages_cookies_are_secure_host_cookies(
    tmp_path: Path,
) -> None:
    """Review 19a, 1.2: a server on loopback behind a proxy that ends TLS on the same host
    served its browsers on https with cookies neither Secure nor ``__Host-``, so a sibling host
    could plant them. Naming the proxy says TLS ends there: the sign-in form's cookie is a
    Secure ``__Host-`` cookie for the whole host, whether or not the proxy forwards the scheme."""
    with (served(tmp_path, trusted_proxies=PROXY) as worker,
          httpx2.Client(base_url=worker.url, timeout=30,
                       transport=httpx2.HTTPTransport(local_address=PROXY)) as proxy):
        forwarded = proxy.get("/review", headers=_forwarded("198.51.100.4"))
        bare = proxy.get("/review", headers={"X-Forwarded-For": "198.51.100.5"})
    for form in (forwarded, bare):
        assert form.status_code == 200, form.text
        [cookie] = form.headers.get_list("set-cookie")
        assert cookie.startswith("__Host-optinface_login_csrf_review="), cookie
        assert "Path=/;" in cookie and "Secure" in cookie and "Domain" not in cookie, cookie


@pytest.mark.parametrize("value", ["*", "localhost", "10.0.0.5/8", "10.0.0.5,,10.0.0.6",
                                   '["10.0.0.5"]'])
def test_trusted_proxies_that_are_not_addresses_or_networks_are_refused_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    value: str,
) -> None:
    """uvicorn would take a typo as a name no peer has, trusting no one without a word, and
    ``*`` as every peer: refused at start, naming the variable, before anything is made."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.setenv("OPTINFACE_TRUSTED_PROXIES", value)
    code, lines = console(monkeypatch, capsys, "serve", "--data-dir", str(tmp_path / "var"))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_TRUSTED_PROXIES: "), lines
    assert list(tmp_path.iterdir()) == []
