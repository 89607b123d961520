"""The API documentation works offline and every answer carries the security headers.

``/docs`` and ``/redoc`` are rendered by headless Chromium with every request to another origin
aborted and recorded: the pages must render and the record stay empty. Framing is tried by a
page of another origin (``about:blank``) holding each page in an iframe.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from optinface.api.access_log import ACCESS_LOGGER
from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.api.browser import DESKTOP, chromium_page
from tests.support.api import World, auth, page_login, portal_session
from tests.support.server import running

pytestmark = pytest.mark.shared_deployment

PAGES = ("/portal", "/review", "/docs", "/redoc")
STATIC = ("/static/", "/docs/assets/")


def _assert_hardened(answer: Any, *, https: bool = False) -> None:
    headers = answer.headers
    policy = headers["content-security-policy"]
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    assert "frame-ancestors 'none'" in policy, where
    assert "://" not in policy and "*" not in policy, f"{where}: another origin in {policy}"
    assert headers["x-frame-options"] == "DENY", where
    assert headers["referrer-policy"] == "no-referrer", where
    assert headers["x-content-type-options"] == "nosniff", where
    assert ("strict-transport-security" in headers) is https, where
    # Only the static mounts' files, the same for everyone, may be kept by a cache.
    static = answer.request.url.path.startswith(STATIC)
    assert (headers.get("cache-control") == "no-store") is not static, where


def test_every_answer_carries_the_security_headers(client: TestClient, world: World) -> None:
    answers = [client.get(path) for path in (*PAGES, "/openapi.json", "/healthz")]
    answers += [
        client.get("/static/style.css"),
        client.get("/docs/assets/swagger-ui.css"),
        client.get("/v1/purposes"),  # 401
        client.get("/v1/purposes", headers=auth(world.keys.admin)),
        client.get("/no/such/page"),  # 404
        client.post("/v1/identify", content=b"x" * 20, headers={"Content-Length": str(10**9)}),
        client.post("/v1/keys", json={"role": 1}, headers=auth(world.keys.admin)),  # 422
    ]
    assert [a.status_code for a in answers[:8]] == [200] * 6 + [200, 200]
    assert [a.status_code for a in answers[8:]] == [401, 200, 404, 413, 422]
    for answer in answers:
        _assert_hardened(answer)


def test_no_answer_holding_personal_data_is_kept_by_a_cache(
    client: TestClient, world: World
) -> None:
    """Found by an outside tester: the pages said ``no-store``, but not the JSON, the exports
    and the downloads that hold the same data."""
    subject = f"/v1/subjects/{world.subject}"
    answers = [client.get(path, headers=auth(world.keys.admin))
               for path in (subject, f"{subject}/export", f"{subject}/consents")]
    answers += [client.get(path, headers=auth(world.keys.reviewer))
                for path in ("/v1/audit/export?format=csv", "/v1/ledger")]
    answers.append(client.get(subject, headers=auth(world.subject_token)))
    page_login(client, "review", world.keys.reviewer)
    answers += [client.get("/review/log.csv"), client.get("/review/download/erasures.json")]
    portal_session(client, world.people[world.subject])
    answers.append(client.get("/portal/data.json"))
    answers.append(client.get("/v1/subjects/subj_none", headers=auth(world.keys.admin)))  # 404
    assert [a.status_code for a in answers] == [200] * 9 + [404], [a.text for a in answers]
    for answer in answers:
        _assert_hardened(answer)


def test_swagger_ui_asks_no_online_validator(client: TestClient) -> None:
    """Found by an outside tester: Swagger UI's default ``validatorUrl`` sends the schema's URL
    to validator.swagger.io for a badge. ``none`` is the value Swagger UI reads as no validator
    (the browser test below reads it from the running page)."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert '"validatorUrl": "none",' in page.text
    assert "validator.swagger.io" not in page.text


def test_hsts_is_sent_over_https(
    api_settings: ApiSettings, service: OptinFace, world: World
) -> None:
    app = create_app(api_settings, service=service)
    with TestClient(app, base_url="https://optinface.example") as secure:
        for path in ("/portal", "/docs", "/healthz"):
            _assert_hardened(secure.get(path), https=True)


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield url


def _raw_answer(url: str, request: bytes) -> tuple[bytes, int]:
    """What the server writes back to ``request`` sent as bytes, until it closes, and the
    client port it came from (the access log names it)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # it closes before reading the rest
            while chunk := connection.recv(65536):
                answer += chunk
        return answer, int(connection.getsockname()[1])


def test_malformed_http_is_answered_by_the_servers_parser_before_the_app(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``docs/service.md`` says of malformed HTTP: uvicorn's parser answers a plain-text 400
    and closes, the app never runs (no access-log line, none of its headers), and serving goes
    on.

    The server's thread writes an access line after its answer has gone, so a line may arrive
    late: the malformed requests are told apart by their client ports, and the check waits
    for the line of a HEAD sent after them (the fixture's own start-up check is a GET)."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    malformed_ports = []
    for request in (b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"):
        answer, port = _raw_answer(base_url, request)
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 400 "), head
        assert b"content-type: text/plain" in head and b"content-security-policy" not in head
        malformed_ports.append(port)
    assert httpx2.head(f"{base_url}/healthz").status_code == 200

    def access_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]

    deadline = time.monotonic() + 10
    while not any("HEAD /healthz" in line for line in access_lines()):
        assert time.monotonic() < deadline, access_lines()
        time.sleep(0.01)
    assert len([line for line in access_lines() if "HEAD /healthz" in line]) == 1
    assert not [line for line in access_lines()
                if any(f":{port} " in line for port in malformed_ports)]


@pytest.fixture
def offline_page(base_url: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page whose requests to any other origin are aborted and recorded, and its console's
    Content-Security-Policy complaints."""
    with chromium_page(base_url, DESKTOP) as page:
        foreign: list[str] = []
        complaints: list[str] = []

        def only_this_origin(route: Any) -> None:
            url = route.request.url
            if url.startswith(base_url) or url.startswith(("data:", "blob:", "about:")):
                route.continue_()
            else:
                foreign.append(url)
                route.abort()

        page.context.route("**/*", only_this_origin)
        page.on(
            "console",
            lambda message: (
                complaints.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        yield page, foreign, complaints


@pytest.mark.browser
def test_docs_render_with_no_request_to_another_origin(
    offline_page: tuple[Any, list[str], list[str]], base_url: str
) -> None:
    page, foreign, complaints = offline_page
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "optinface" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 10  # the operations are listed
    assert page.evaluate("ui.getConfigs().validatorUrl") == "none"
    page.goto("/redoc")
    page.wait_for_selector("[data-section-id]", timeout=30_000)
    assert "optinface" in page.inner_text("h1")
    assert foreign == []
    assert complaints == []  # ReDoc's vendor logo was one, refused by the policy


@pytest.mark.browser
def test_no_page_can_be_framed(base_url: str) -> None:
    """A page of another origin frames each page; the browser must show none of them."""
    with chromium_page(base_url, DESKTOP) as page:
        frames = "".join(
            f'<iframe src="{base_url}{path}" onload="this.dataset.loaded=1"></iframe>'
            for path in PAGES
        )
        page.set_content(f"<html><body>{frames}</body></html>")
        page.wait_for_function(
            "[...document.querySelectorAll('iframe')].every(f => f.dataset.loaded)"
        )
        shown = [frame.url for frame in page.frames[1:]]
    assert len(shown) == len(PAGES)
    assert [url for url in shown if url.startswith(base_url)] == []
