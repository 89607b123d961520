"""Real ``optinface serve`` workers on one PostgreSQL ledger, for the tests and the benchmark.

Each worker is its own process with its own data directory (its index replica and its lock) on a
loopback port; all share the database URL, the key store and the witness folder, exactly what
``docs/postgresql.md`` asks of a deployment. :func:`declare_ledger` sets up the keys, one purpose,
one notice and the declaration through the consent core before the workers start.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx2

from optinface.api.settings import ApiSettings
from optinface.consent.declaration import declared_long_enough_ago
from optinface.consent.roles import Role
from optinface.consent.schemas import NoticeCreate, Operation, PurposeCreate
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.server import free_port, inherited_environment, wait_until_healthy

START_SECONDS = 180  # imports and models on a loaded two-core machine


@dataclass
class Secrets:
    admin: str
    portal: str
    researcher: str
    purpose: str
    notice: str


def cluster_settings(root: Path, database_url: str, thresholds: Path) -> ApiSettings:
    """What every worker shares (plus a data directory of its own, see :class:`Worker`)."""
    return ApiSettings(
        data_dir=root / "setup", database_url=database_url, key_dir=root / "keys",
        audit_witness_dir=root / "witness", thresholds_path=thresholds, match_fmr=1e-4,
        rate_per_second=10_000, rate_burst=10_000, identify_daily_quota=100_000,
        sign_in_challenges_per_minute=10_000, sign_in_challenge_burst=10_000,
        demo_mode=True)  # a test deployment: placeholder accountability


def declare_ledger(settings: ApiSettings, pipeline: FacePipeline) -> Secrets:
    """Keys per role, one purpose, one notice and a declaration old enough to match now."""
    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        admin_secret = service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret
        admin = service.authenticate(admin_secret)
        made = {role: service.create_api_key(actor=admin, role=role, name=str(role)).secret
                for role in (Role.PORTAL, Role.RESEARCHER)}
        purpose = service.create_purpose(actor=admin, body=PurposeCreate(
            name="study", description="several workers", legal_basis="consent",
            operations={Operation.ENROL, Operation.VERIFY, Operation.IDENTIFY},
            retention_days=3650))
        notice = service.publish_notice(actor=admin, body=NoticeCreate(
            version="1", language="en", text="several workers notice"))
        service.declare(actor=admin, date=declared_long_enough_ago(date.today(), settings),
                        reference="CAI-WORKERS")
    finally:
        service.close()
    return Secrets(admin=admin_secret, portal=made[Role.PORTAL],
                   researcher=made[Role.RESEARCHER], purpose=purpose.id, notice=notice.id)


def environment(settings: ApiSettings) -> dict[str, str]:
    """The OPTINFACE_* variables a worker process needs to join ``settings``' ledger."""
    return {
        **inherited_environment(),
        "OPENBLAS_NUM_THREADS": "1",
        "OPTINFACE_DATABASE_URL": settings.url,
        "OPTINFACE_KEY_DIR": str(settings.keys_dir),
        "OPTINFACE_AUDIT_WITNESS_DIR": str(settings.witness_dir),
        "OPTINFACE_THRESHOLDS_PATH": str(settings.thresholds_path),
        "OPTINFACE_MATCH_FMR": str(settings.match_fmr),
        "OPTINFACE_RATE_PER_SECOND": str(settings.rate_per_second),
        "OPTINFACE_RATE_BURST": str(settings.rate_burst),
        "OPTINFACE_SIGN_IN_CHALLENGES_PER_MINUTE": str(settings.sign_in_challenges_per_minute),
        "OPTINFACE_SIGN_IN_CHALLENGE_BURST": str(settings.sign_in_challenge_burst),
        "OPTINFACE_IDENTIFY_DAILY_QUOTA": str(settings.identify_daily_quota),
        "OPTINFACE_DEMO_MODE": "true",
    }


class Worker:
    """One ``optinface serve`` process with its own data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = free_port()
        self.log = data_dir.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Worker:
        command = [sys.executable, "-c", "from optinface.api.cli.main import run; run()",
                   "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env)
        process = self.process
        wait_until_healthy(self.url, seconds=START_SECONDS, interval=0.1,
                           log=lambda: f"worker did not start: {self.log.read_text()[-3000:]}",
                           alive=lambda: process.poll() is None)
        return self

    def health(self) -> dict[str, object]:
        return dict(httpx2.get(f"{self.url}/healthz", timeout=10).json())

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: uvicorn stops, the service saves and closes)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
