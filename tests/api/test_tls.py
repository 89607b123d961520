"""HTTPS in ``optinface serve``: TLS 1.2 or later, HSTS, and relying parties' keys bound to
client certificates where the server verifies them (``OPTINFACE_TLS_CLIENT_CA``), asked for
on a port of their own where ``OPTINFACE_TLS_CLIENT_PORT`` gives one.

Every server here is the real one: ``serve``'s own uvicorn configuration (its TLS context and
the protocol that puts the client's certificate in the request's scope) on its own sockets, or
the ``optinface serve`` process itself where its ports and signals are what is tested, with
clients speaking real TLS; the certificates are made per module (tests/support).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import typer
import uvicorn
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.main import app as cli
from optinface.api.cli.serve import listening_sockets
from optinface.api.cli.servers import loaded_scheme, server_config
from optinface.api.security_headers import HSTS
from optinface.api.tls import contexts_for
from optinface.consent.apikeys import CREDENTIALS_REFUSED
from optinface.consent.audit import AuditAction
from optinface.consent.client_certificates import REFUSAL_REASON, certificate_sha256
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.settings import LONGEST_WITNESS_INTERVAL_SECONDS
from optinface.consent.transparency import witness_checkpoints
from optinface.engine.pipeline import FacePipeline
from tests.support.api import Keys, auth, make_keys, settings_for_tests, thresholds_for_tests
from tests.support.certificates import Issued, Pki, make_pki
from tests.support.console import console, printed_secret
from tests.support.server import (
    free_port,
    inherited_environment,
    serve_environment,
    started,
    wait_until_healthy,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TlsServer:
    url: str
    service: OptinFace
    keys: Keys  # made before the CA was set: the researcher's and verifier's are unbound
    pki: Pki
    config: uvicorn.Config  # as the running server loaded it

    def client(self, cert: Issued | None = None) -> httpx2.Client:
        return tls_client(self.pki, self.url, cert)


def tls_client(pki: Pki, url: str, cert: Issued | None = None) -> httpx2.Client:
    """A client of ``url`` that trusts ``pki``'s CA and presents ``cert`` (none: no
    certificate)."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    if cert is not None:
        context.load_cert_chain(*cert.pair)
    return httpx2.Client(base_url=url, verify=context)


@contextmanager
def tls_server(data_root: Path, pipeline: FacePipeline, pki: Pki, *,
               client_ca: bool) -> Iterator[TlsServer]:
    """``serve`` with the server certificate of ``pki``, and its CA as the clients' if told."""
    settings = settings_for_tests(data_root, tls_cert=pki.server.cert, tls_key=pki.server.key,
                                  tls_client_ca=pki.ca.cert if client_ca else None)
    service = OptinFace.open(settings, pipeline=pipeline)
    listeners = listening_sockets("127.0.0.1", 0)
    try:
        keys = make_keys(service)
        tls = contexts_for(settings)[settings.port]
        server = uvicorn.Server(server_config(create_app(settings, service=service), tls,
                                              proxies=settings.trusted_proxies))
        assert loaded_scheme(server.config, tls) == "https"
        with started(server, listeners):
            port = listeners[0].getsockname()[1]
            yield TlsServer(f"https://127.0.0.1:{port}", service, keys, pki, server.config)
    finally:
        for listener in listeners:
            listener.close()
        service.close()


ENCRYPTED_KEY = "server-encrypted.key"
CA_WITH_BAD_CRL = "clients-ca-with-bad-crl.pem"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The PKI, with two files an operator could give by mistake: the server's key encrypted,
    and the clients' CA followed by a CRL block that is not one."""
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    key = serialization.load_pem_private_key(pki.server.key.read_bytes(), password=None)
    (pki.ca.folder / ENCRYPTED_KEY).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a passphrase")))
    (pki.ca.folder / CA_WITH_BAD_CRL).write_text(
        pki.ca.cert.read_text()
        + "-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n")
    return pki


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline,
         pki: Pki) -> Iterator[TlsServer]:
    """A server that verifies client certificates against ``pki``'s CA."""
    with tls_server(tmp_path_factory.mktemp("mtls"), pipeline, pki, client_ca=True) as server:
        yield server


@pytest.fixture(scope="module")
def tls_only(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline,
             pki: Pki) -> Iterator[TlsServer]:
    """A server over TLS without ``OPTINFACE_TLS_CLIENT_CA``."""
    with tls_server(tmp_path_factory.mktemp("tls"), pipeline, pki, client_ca=False) as server:
        yield server


def bound_researcher(server: TlsServer, cert: Issued) -> str:
    """A researcher key bound to ``cert``, made by the admin over HTTPS."""
    return researcher_bound_by(server.client(), server.keys.admin, cert)


def researcher_bound_by(client: httpx2.Client, admin: str, cert: Issued) -> str:
    """A researcher key bound to ``cert``, made by ``admin``'s key over ``client``."""
    with client as admin_client:
        made = admin_client.post("/v1/keys", headers=auth(admin), json={
            "role": "researcher", "name": "lab A", "client_cert_pem": cert.pem})
    assert made.status_code == 201, made.text
    assert made.json()["client_cert_sha256"] == certificate_sha256(cert.pem)
    return str(made.json()["secret"])


def certificate_refusals(server: TlsServer) -> int:
    """Refusals by client certificate the audit log counts so far (the tally flushed first)."""
    service = server.service
    service.flush_auth_failures()
    page = service.audit_events(actor=service.authenticate(server.keys.reviewer),
                                filters=AuditFilter(action=AuditAction.LOGIN_FAILURE), limit=1000)
    return sum(int(event.details["reasons"].get(REFUSAL_REASON, 0)) for event in page.events)


def handshake(server: TlsServer, *, maximum: ssl.TLSVersion) -> str | None:
    """The TLS version a client offering up to ``maximum`` (and, for this test, every old
    version and cipher its OpenSSL has) agrees with the server."""
    context = ssl.create_default_context(cafile=server.pki.ca.cert)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = maximum
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.version()


def test_serve_says_the_scheme_uvicorn_loaded_and_refuses_tls_it_did_not_load(
        tls_only: TlsServer, capsys: pytest.CaptureFixture[str]) -> None:
    """``listening on https://`` only where uvicorn loaded the TLS context (the running
    server's did, in the fixture): a uvicorn that left it out would serve plain HTTP, so serve
    refuses to start rather than print a scheme it does not speak."""
    app, tls = tls_only.config.app, tls_only.config.ssl
    assert loaded_scheme(server_config(app, None, proxies=()), None) == "http"
    without_the_context = uvicorn.Config(app, log_config=None)  # as a uvicorn ignoring it loads
    with pytest.raises(typer.Exit):
        loaded_scheme(without_the_context, tls)
    assert capsys.readouterr().err == (
        "error: invalid_settings: OPTINFACE_TLS_CERT: uvicorn did not load the TLS context;"
        " serve needs uvicorn 0.47 or later\n")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_serve_speaks_tls_1_2_or_later_only(tls_only: TlsServer) -> None:
    """A client that offers at most TLS 1.1 (which this OpenSSL can still speak) fails the
    handshake; one that offers TLS 1.2 gets it. The client cannot tell why it failed (asyncio
    closes without sending the alert), and Python's own defaults (a TLS 1.2 floor since 3.10,
    AEAD ciphers only) refuse TLS 1.1 too, so the floor is also checked on the context the
    running server listens with: stated there, not left to defaults."""
    with pytest.raises(ssl.SSLError):
        handshake(tls_only, maximum=ssl.TLSVersion.TLSv1_1)
    assert handshake(tls_only, maximum=ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert tls_only.config.ssl is not None
    assert tls_only.config.ssl.minimum_version is ssl.TLSVersion.TLSv1_2


def test_answers_over_tls_tell_the_browser_to_keep_to_https(tls_only: TlsServer) -> None:
    with tls_only.client() as browser:
        answer = browser.get("/healthz")
    assert answer.status_code == 200
    assert answer.headers["Strict-Transport-Security"] == HSTS


def container_health_check(port: int, environment: dict[str, str]) -> int:
    """The exit status of the Dockerfile's HEALTHCHECK, run against ``port`` instead of the
    container's 8000, with ``environment`` (the container's own)."""
    line = (ROOT / "Dockerfile").read_text().split("HEALTHCHECK ", 1)[1].split("CMD ", 1)[1]
    command = json.loads(line.split("\n", 1)[0])
    command[-1] = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return subprocess.run(command, env={**inherited_environment(), **environment},
                          capture_output=True, timeout=30, check=False).returncode


def test_the_container_health_check_asks_in_the_scheme_serve_speaks(tls_only: TlsServer) -> None:
    """With ``OPTINFACE_TLS_CERT`` (as the container's serve has it) the health check asks
    over HTTPS and finds the server healthy; over plain HTTP a TLS server would never be."""
    port = int(tls_only.url.rsplit(":", 1)[1])
    assert container_health_check(port, {"OPTINFACE_TLS_CERT": str(tls_only.pki.server.cert)}) == 0
    assert container_health_check(port, {}) != 0


def test_without_a_client_ca_bound_keys_are_not_checked(tls_only: TlsServer) -> None:
    researcher = bound_researcher(tls_only, tls_only.pki.client_a)
    with tls_only.client() as no_certificate:
        assert no_certificate.get("/v1/purposes", headers=auth(researcher)).status_code == 200


def test_a_researcher_key_works_only_with_the_certificate_it_is_bound_to(
        mtls: TlsServer) -> None:
    researcher = bound_researcher(mtls, mtls.pki.client_a)
    with mtls.client(mtls.pki.client_a) as own:
        assert own.get("/v1/purposes", headers=auth(researcher)).status_code == 200
    before = certificate_refusals(mtls)
    for cert in (mtls.pki.client_b, None):
        with mtls.client(cert) as other:
            refused = other.get("/v1/purposes", headers=auth(researcher))
        assert refused.status_code == 401, refused.text
        assert refused.json()["message"] == CREDENTIALS_REFUSED
    assert certificate_refusals(mtls) == before + 2


def test_an_unbound_relying_party_key_is_refused_where_certificates_are_checked(
        mtls: TlsServer) -> None:
    before = certificate_refusals(mtls)
    with mtls.client(mtls.pki.client_a) as client:
        assert client.get("/v1/purposes",
                          headers=auth(mtls.keys.researcher)).status_code == 401
        assert client.get("/v1/reviews",
                          headers=auth(mtls.keys.verifier)).status_code == 401
    assert certificate_refusals(mtls) == before + 2


def test_other_roles_and_the_pages_need_no_client_certificate(mtls: TlsServer) -> None:
    bound_researcher(mtls, mtls.pki.client_a)
    with mtls.client() as browser:
        keys = browser.get("/v1/keys", headers=auth(mtls.keys.admin))
        assert keys.status_code == 200
        assert certificate_sha256(mtls.pki.client_a.pem) in [
            key["client_cert_sha256"] for key in keys.json()]
        assert browser.get("/v1/audit/events",
                           headers=auth(mtls.keys.reviewer)).status_code == 200
        assert browser.get("/portal").status_code == 200
        assert browser.get("/review").status_code == 200


def test_the_pages_refuse_a_relying_party_key_for_its_certificate_as_the_api_does(
        mtls: TlsServer) -> None:
    """The pages' sign-in applies the API's certificate rule: a bound researcher key signing in
    without its certificate is refused for it (and tallied so), with it only for lacking the
    area's permission. No page admits a relying party today; one that did could not be a way
    round the rule."""
    researcher = bound_researcher(mtls, mtls.pki.client_a)
    for cert, tallied in ((None, 1), (mtls.pki.client_a, 0)):
        before = certificate_refusals(mtls)
        with mtls.client(cert) as browser:
            form = browser.get("/review")
            csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
            answer = browser.post("/review/login", data={"token": researcher, "csrf": csrf})
        assert answer.status_code == 401 and "does not open this area" in answer.text
        assert certificate_refusals(mtls) == before + tallied, cert


def test_a_certificate_of_another_ca_fails_the_handshake(mtls: TlsServer) -> None:
    """No answer at all, not even a 401: over TLS 1.3 the client learns it when the server
    closes the connection its request went on."""
    with mtls.client(mtls.pki.stranger) as stranger, pytest.raises(httpx2.TransportError):
        stranger.get("/healthz")
    with mtls.client(mtls.pki.client_b) as known:
        assert known.get("/healthz").status_code == 200


def test_relying_party_keys_are_made_bound_where_certificates_are_checked(
        mtls: TlsServer) -> None:
    """No unbound researcher key (it could never be used); no binding where nothing checks it
    (an admin's key); a binding only to a certificate the client CA issued (another CA's
    could never open a connection) for client authentication (not the server's own)."""
    pki = mtls.pki
    with mtls.client() as admin:
        for body in ({"role": "researcher", "name": "unbound"},
                     {"role": "admin", "name": "bound", "client_cert_pem": pki.client_a.pem},
                     {"role": "researcher", "name": "junk", "client_cert_pem": "not a PEM"},
                     {"role": "verifier", "name": "other", "client_cert_pem": pki.stranger.pem},
                     {"role": "verifier", "name": "server's", "client_cert_pem": pki.server.pem}):
            refused = admin.post("/v1/keys", headers=auth(mtls.keys.admin), json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "invalid_request"


@pytest.fixture
def tls_environment(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of ``optinface`` commands on a fresh data dir; its path."""
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(thresholds_for_tests(tmp_path)))
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    monkeypatch.delenv("OPTINFACE_API_KEY", raising=False)
    return tmp_path / "var"


@pytest.mark.parametrize(("given", "refused", "said"), [
    ({"TLS_CERT": "server.pem"}, "OPTINFACE_TLS_KEY", "go together"),
    ({"TLS_KEY": "server.key"}, "OPTINFACE_TLS_KEY", "go together"),
    ({"TLS_CLIENT_CA": "clients-ca.pem"}, "OPTINFACE_TLS_CLIENT_CA", "over TLS only"),
    ({"TLS_CERT": "missing.pem", "TLS_CLIENT_CA": "clients-ca.pem"}, "OPTINFACE_TLS_KEY",
     "go together"),
    ({"TLS_CERT": "missing.pem", "TLS_KEY": "server.key"}, "OPTINFACE_TLS_CERT",
     "cannot read"),
    ({"TLS_CERT": "server.pem", "TLS_KEY": "client-a.key"}, "OPTINFACE_TLS_KEY",
     "is not the PEM private key of the certificate"),
    ({"TLS_CERT": "server.pem", "TLS_KEY": ENCRYPTED_KEY}, "OPTINFACE_TLS_KEY",
     "is encrypted: serve needs it unencrypted"),
    ({"TLS_CERT": "server.pem", "TLS_KEY": "server.key", "TLS_CLIENT_CA": "server.key"},
     "OPTINFACE_TLS_CLIENT_CA", "holds no PEM certificate"),
    ({"TLS_CERT": "server.pem", "TLS_KEY": "server.key", "TLS_CLIENT_CA": CA_WITH_BAD_CRL},
     "OPTINFACE_TLS_CLIENT_CA", "OpenSSL cannot load"),
], ids=["cert-without-key", "key-without-cert", "ca-without-cert", "unreadable-cert-no-key",
        "unreadable-cert", "key-of-another-cert", "encrypted-key", "ca-not-a-certificate",
        "ca-with-a-malformed-crl"])
def test_serve_refuses_tls_settings_that_do_not_hold_in_one_line(
        pki: Pki, tls_environment: Path, given: dict[str, str], refused: str, said: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """One line naming the one setting at fault, before anything is made: every file is
    tried as the server will use it, OpenSSL included (a CA bundle whose certificate parses
    but whose CRL block OpenSSL refuses), and a missing half of the server's pair is the one
    problem named, not the client CA that needs it too."""
    for name, file in given.items():
        monkeypatch.setenv(f"OPTINFACE_{name}", str(pki.ca.folder / file))
    # On a port already taken: a file let through ends in that refusal, not in a server running.
    with socket.create_server(("127.0.0.1", 0)) as taken:
        code, lines = console(monkeypatch, capsys, "serve", "--port",
                              str(taken.getsockname()[1]), "--data-dir", str(tls_environment))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: invalid_settings: {refused}: "), lines
    assert said in lines[0] and "_ssl.c" not in lines[0], lines
    assert "; OPTINFACE_" not in lines[0], lines  # one problem, not a second one it implies
    assert not tls_environment.exists()


def test_commands_that_do_not_listen_never_read_the_tls_files(
        pki: Pki, tls_environment: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An operator's account that cannot read the server's files still manages keys: only
    ``serve`` reads the certificate and key, and only what binds a key reads the client CA
    bundle (which must then hold a certificate), while which files go together holds for all."""
    for name, path in (("CERT", pki.ca.folder / "unreadable.pem"),
                       ("KEY", pki.ca.folder / "unreadable.key"),
                       ("CLIENT_CA", pki.ca.folder / "unreadable-ca.pem")):
        monkeypatch.setenv(f"OPTINFACE_TLS_{name}", str(path))
    runner = CliRunner()
    d = ("--data-dir", str(tls_environment))
    made = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops", *d])
    assert made.exit_code == 0, made.output
    admin = printed_secret(made.output)
    listed = runner.invoke(cli, ["keys", "list", "--api-key", admin, *d])
    assert listed.exit_code == 0 and "ops" in listed.output, listed.output
    no_certificate = pki.ca.folder / "no-certificate.pem"
    no_certificate.write_text("not a certificate\n")
    monkeypatch.setenv("OPTINFACE_TLS_CLIENT_CA", str(no_certificate))
    code, lines = console(monkeypatch, capsys, "keys", "create", "--role", "researcher",
                          "--name", "lab", "--client-cert", str(pki.client_a.cert),
                          "--api-key", admin, *d)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: invalid_settings: OPTINFACE_TLS_CLIENT_CA: "), lines
    assert lines[0].endswith("holds no PEM certificate"), lines


def test_keys_create_binds_a_researcher_key_to_its_client_certificate(
        pki: Pki, tls_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, path in (("CERT", pki.server.cert), ("KEY", pki.server.key),
                       ("CLIENT_CA", pki.ca.cert)):
        monkeypatch.setenv(f"OPTINFACE_TLS_{name}", str(path))
    runner = CliRunner()
    d = ("--data-dir", str(tls_environment))
    made = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops", *d])
    admin = printed_secret(made.output)
    unbound = runner.invoke(cli, ["keys", "create", "--role", "researcher", "--name", "lab",
                                  "--api-key", admin, *d])
    assert unbound.exit_code == 1 and "client certificate" in unbound.output, unbound.output
    bound = runner.invoke(cli, ["keys", "create", "--role", "researcher", "--name", "lab",
                                "--client-cert", str(pki.client_a.cert), "--api-key", admin, *d])
    fingerprint = certificate_sha256(pki.client_a.pem)
    assert bound.exit_code == 0 and fingerprint in bound.output, bound.output
    listed = runner.invoke(cli, ["keys", "list", "--json", "--api-key", admin, *d])
    assert fingerprint in listed.output


START_SECONDS = 180  # imports and models on a loaded two-core machine
# The longest interval allowed, longer than a test: only start and close write a checkpoint.
QUIET_WITNESS = str(LONGEST_WITNESS_INTERVAL_SECONDS)


@dataclass
class Serving:
    """``optinface serve`` running as its own process, as an operator starts it."""

    process: subprocess.Popen[str]
    urls: list[str]  # the main port's, then the relying parties' port's if it has one
    pki: Pki
    data_dir: Path
    lines: list[str]

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def admin(self) -> str:
        """The first admin key, which the first run printed."""
        printed = re.search(r"^(key_\S+)$", self.output, re.MULTILINE)
        assert printed, self.output
        return printed.group(1)

    @property
    def checkpoints(self) -> int:
        """Checkpoints the witness folder holds (serve's default folder, next to the data)."""
        return len(witness_checkpoints(self.data_dir.with_name(f"{self.data_dir.name}-witness")))

    def client(self, url: str, cert: Issued | None = None) -> httpx2.Client:
        return tls_client(self.pki, url, cert)


def _tls_serve_environment(root: Path, pki: Pki, **extra: str) -> dict[str, str]:
    """The environment of an ``optinface serve`` subprocess over TLS with ``pki``'s CA as the
    clients', in demo mode, with this test's thresholds; ``extra`` settings beside."""
    return {**inherited_environment(), **serve_environment(
        root, OPTINFACE_TLS_CERT=str(pki.server.cert), OPTINFACE_TLS_KEY=str(pki.server.key),
        OPTINFACE_TLS_CLIENT_CA=str(pki.ca.cert), **extra)}


@contextmanager
def serving(root: Path, pki: Pki, *, client_port: bool) -> Iterator[Serving]:
    """``optinface serve`` over TLS with ``pki``'s CA as the clients', and a port of their own
    for relying parties if told; killed at the end if still running."""
    ports = [free_port()]
    while client_port and len(ports) < 2:
        ports.extend({free_port()} - set(ports))
    env = _tls_serve_environment(root, pki, OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS=QUIET_WITNESS)
    if client_port:
        env["OPTINFACE_TLS_CLIENT_PORT"] = str(ports[1])
    data_dir = root / "var"
    process = subprocess.Popen(
        [sys.executable, "-m", "optinface.api.cli.main", "serve", "--port", str(ports[0]),
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
    served = Serving(process, [f"https://127.0.0.1:{port}" for port in ports], pki, data_dir,
                     lines)
    try:
        wait_until_healthy(served.urls[0], seconds=START_SECONDS, interval=0.2,
                           log=lambda: served.output, alive=lambda: process.poll() is None,
                           verify=ssl.create_default_context(cafile=pki.ca.cert))
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def two_ports(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Serving]:
    """``serve`` with ``OPTINFACE_TLS_CLIENT_PORT``: the main port and the relying parties'."""
    with serving(tmp_path_factory.mktemp("two-ports"), pki, client_port=True) as served:
        yield served


def test_serve_names_both_urls_and_runs_the_apps_lifespan_once(two_ports: Serving) -> None:
    """One app on two ports: its background work (sweeper, witness) starts once, with the main
    port's server, as uvicorn's log of the lifespan says."""
    main, clients = two_ports.urls
    assert f"listening on {main}  (API /v1, docs /docs, portal /portal" in two_ports.output
    assert f"listening on {clients}  (relying parties" in two_ports.output
    assert two_ports.output.count("Application startup complete.") == 1, two_ports.output


def test_with_a_client_port_the_main_port_asks_no_one_for_a_certificate(
        two_ports: Serving) -> None:
    """A browser holding a certificate of another CA (an eID, a smartcard) is not asked for
    it on the main port, so it reaches the portal (on the one port that asks, it fails the
    handshake: ``test_a_certificate_of_another_ca_fails_the_handshake``)."""
    main, _ = two_ports.urls
    with two_ports.client(main, two_ports.pki.stranger) as browser:
        assert browser.get("/portal").status_code == 200


def test_with_a_client_port_relying_party_keys_work_over_that_port_only(
        two_ports: Serving) -> None:
    """The main port never asks for the certificate, so a bound key fails there even from the
    machine that holds it; the relying parties' port asks and the rule admits it."""
    main, clients = two_ports.urls
    pki = two_ports.pki
    researcher = researcher_bound_by(two_ports.client(main), two_ports.admin, pki.client_a)
    with two_ports.client(main, pki.client_a) as not_asked:
        refused = not_asked.get("/v1/purposes", headers=auth(researcher))
    assert refused.status_code == 401, refused.text
    with two_ports.client(clients, pki.client_a) as asked:
        assert asked.get("/v1/purposes", headers=auth(researcher)).status_code == 200
    with two_ports.client(clients, pki.client_b) as another_machine:
        assert another_machine.get("/v1/purposes",
                                   headers=auth(researcher)).status_code == 401


def test_the_client_port_lets_in_only_a_certificate_of_the_client_ca(two_ports: Serving) -> None:
    """Required there, not just asked for: without one, or with another CA's, no answer."""
    _, clients = two_ports.urls
    for cert in (two_ports.pki.stranger, None):
        with two_ports.client(clients, cert) as refused, pytest.raises(httpx2.TransportError):
            refused.get("/healthz")
    with two_ports.client(clients, two_ports.pki.client_b) as known:
        assert known.get("/healthz").status_code == 200


@pytest.mark.parametrize(("client_port", "signum"), [
    (True, signal.SIGTERM), (True, signal.SIGINT), (False, signal.SIGTERM)],
    ids=["two-ports-sigterm", "two-ports-sigint", "one-port-sigterm"])
def test_a_stop_signal_ends_every_listener_and_serve_exits_0_with_the_service_closed(
        tmp_path: Path, pki: Pki, client_port: bool, signum: signal.Signals) -> None:
    """``kill`` or Ctrl-C stops every port's server and returns to close the service once
    (its checkpoint of the log's last events in the witness folder: a refused key's tally,
    written at close) before exiting 0, rather than dying of the signal uvicorn raises again
    once it has stopped."""
    with serving(tmp_path, pki, client_port=client_port) as served:
        for url in served.urls:
            with served.client(url, pki.client_a) as client:
                assert client.get("/v1/purposes",
                                  headers=auth("key_wrong.secret")).status_code == 401
        before = served.checkpoints
        served.process.send_signal(signum)
        assert served.process.wait(timeout=60) == 0, served.output
        assert served.checkpoints == before + 1, served.output
        for url in served.urls:
            port = int(url.rsplit(":", 1)[1])
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.parametrize(("given", "said"), [
    ({"TLS_CERT": "server.pem", "TLS_KEY": "server.key", "TLS_CLIENT_PORT": "9443"},
     "OPTINFACE_TLS_CLIENT_PORT: Value error, needs OPTINFACE_TLS_CLIENT_CA"),
    ({"TLS_CLIENT_PORT": "9443"},
     "OPTINFACE_TLS_CLIENT_PORT: Value error, needs OPTINFACE_TLS_CLIENT_CA"),
    ({"TLS_CERT": "server.pem", "TLS_KEY": "server.key", "TLS_CLIENT_CA": "clients-ca.pem",
      "TLS_CLIENT_PORT": "main"}, "OPTINFACE_TLS_CLIENT_PORT: Value error, is the main port"),
    ({"TLS_CLIENT_CA": "clients-ca.pem", "TLS_CLIENT_PORT": "9443"},
     "OPTINFACE_TLS_CLIENT_CA: Value error, needs OPTINFACE_TLS_CERT"),
], ids=["without-a-client-ca", "without-tls", "the-main-port", "with-a-refused-client-ca"])
def test_serve_refuses_a_client_port_without_its_ca_or_on_the_main_port_in_one_line(
        pki: Pki, tls_environment: Path, given: dict[str, str], said: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """One line, the one problem (a client CA refused is that, not the port that needs it),
    before anything is made; on a port already taken, so a setting let through ends in that
    refusal rather than in a server running."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        main = str(taken.getsockname()[1])
        for name, value in given.items():
            monkeypatch.setenv(f"OPTINFACE_{name}",
                               main if value == "main" else value if value.isdigit()
                               else str(pki.ca.folder / value))
        code, lines = console(monkeypatch, capsys, "serve", "--port", main,
                              "--data-dir", str(tls_environment))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: invalid_settings: {said}"), lines
    assert "; OPTINFACE_" not in lines[0], lines
    assert not tls_environment.exists()


def test_serve_refuses_a_client_port_in_use_in_one_line_before_making_anything(
        tmp_path: Path, pki: Pki) -> None:
    """As the main port's: the main port free, the run is its own process, which a server
    that went on would leave running (the timeout ends it)."""
    data_dir = tmp_path / "var"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = _tls_serve_environment(tmp_path, pki, OPTINFACE_TLS_CLIENT_PORT=str(port))
        ended = subprocess.run(
            [sys.executable, "-m", "optinface.api.cli.main", "serve", "--port", str(free_port()),
             "--data-dir", str(data_dir)],
            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ended.returncode == 1, ended.stdout + ended.stderr
    assert ended.stderr.startswith(
        f"error: address_unavailable: cannot listen on 127.0.0.1:{port}:"), ended.stderr
    assert len(ended.stderr.splitlines()) == 1, ended.stderr
    assert not data_dir.exists()
