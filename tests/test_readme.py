"""The documentation's examples run as written, and its tables name what the code has."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from optinface.api.error_codes import STATUS_BY_CODE
from optinface.api.schemas import Health
from optinface.api.settings import ApiSettings
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import register_admin_passkey
from tests.support.docs import DOCS, README, page
from tests.support.routes import unopened_app


def _python_block(path: Path) -> str:
    found = re.search(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
    assert found, f"no python block in {path}"
    return found.group(1)


def test_library_example_finds_a_candidate_then_erases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its data dir lands in tmp_path
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        library = page("library")
        exec(compile(_python_block(library), str(library), "exec"), {})
    outcome, review, timings = output.getvalue().splitlines()
    assert re.fullmatch(r"candidates_for_review \[\('subj_[0-9a-f]+', 'provisional'\)\]", outcome)
    assert review == "confirmed"
    assert re.fullmatch(r"unsearchable after \d+ ms, gone after \d+ ms", timings)


def _prose(path: Path) -> str:
    """``path``'s text without its code blocks: a link or a heading there is code, not prose."""
    return re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)


def _relative_links(path: Path) -> list[tuple[str, str]]:
    """Each relative Markdown link of ``path``: its target file (empty: this page) and anchor."""
    links = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(path)):
        if not re.match(r"[a-z]+:", target):  # another site's address
            file, _, anchor = target.partition("#")
            links.append((file, anchor))
    return links


@functools.cache
def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives ``path``'s headings: lower case, punctuation dropped, spaces
    as hyphens (read once a page, however many links point into it)."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", _prose(path), flags=re.MULTILINE)}


@pytest.mark.parametrize("path", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_every_link_between_the_pages_reaches_a_page_and_its_heading(path: Path) -> None:
    """The README is a map to the topic pages, which link one another: a page split or renamed
    must leave no link to nowhere (a file that is not there, or a heading it does not have)."""
    broken = []
    for target, anchor in _relative_links(path):
        reached = (path.parent / target).resolve() if target else path
        if not reached.exists() or (anchor and anchor not in _anchors(reached)):
            broken.append(f"{target}#{anchor}")
    assert broken == []


def _documented_statuses() -> dict[str, int]:
    """The error table (``docs/errors.md``): each code with the HTTP status its row gives."""
    section = page("errors").read_text()
    found: dict[str, int] = {}
    for codes, status in re.findall(r"^\| (.+?) \| (\d{3})", section, flags=re.MULTILINE):
        for code in re.findall(r"(?:^|, )([a-z_]+)", codes):
            found[code] = int(status)
    return found


def test_the_error_table_lists_every_code_with_its_status() -> None:
    assert _documented_statuses() == STATUS_BY_CODE


def _settings_table() -> list[str]:
    """The settings the table of ``docs/settings.md`` names, in its order."""
    section = page("settings").read_text()
    return re.findall(r"^\| `OPTINFACE_([A-Z0-9_]+)` \|", section, flags=re.MULTILINE)


def test_the_settings_table_names_every_setting_once_and_nothing_else() -> None:
    fields = [name.upper() for name in ApiSettings.model_fields]  # the engine's and consent's too
    named = _settings_table()
    assert sorted(named) == sorted(set(named))  # each once
    assert sorted(named) == sorted(fields)


def test_the_route_table_names_every_api_path() -> None:
    """Every path the OpenAPI schema states is in the route table of ``docs/service.md``
    (parameter names aside: {subject} and {pseudonym} are one)."""
    service = page("service").read_text()
    table = service.split("| Method | Path | Roles |\n", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"/[\w./{}-]+", re.sub(r"\{\w+\}", "{}", table)))
    paths = {re.sub(r"\{\w+\}", "{}", path) for path in
             unopened_app(demo_mode=True).openapi()["paths"]}
    assert sorted(paths - listed) == []


def test_the_service_page_lists_every_health_field() -> None:
    service = page("service").read_text()
    section = service.split("`/healthz` answers, without authentication:\n", 1)[1]
    listed = re.findall(r"^- `(\w+)`:", section.split("\n\n", 1)[0], flags=re.MULTILINE)
    assert sorted(listed) == sorted(Health.model_fields)


def _bash_block(path: Path, marker: str) -> str:
    """The first bash block after ``marker`` in ``path``."""
    found = re.search(r"```bash\n(.*?)```", path.read_text().split(marker, 1)[1],
                      flags=re.DOTALL)
    assert found, f"no bash block after {marker!r}"
    return found.group(1)


def test_the_documented_downgrade_runs_from_a_checkout_and_drops_admin_passkeys_only_when_asked(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """The commands of ``docs/cli.md`` for going back before 0028, run as written on a ledger
    where an admin key has its passkey: without ``-x drop_admin_mfa=1`` nothing changes; with it the
    ledger is at 0027, the passkey gone with its table."""
    settings = ConsentSettings(data_dir=tmp_path / "var", demo_mode=True, admin_mfa=True)
    with closing(OptinFace.open(settings, pipeline=pipeline)) as service:
        admin = service.authenticate(
            service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret)
        register_admin_passkey(service, admin, SoftAuthenticator(origin=DEFAULT_ORIGIN),
                               link=service.issue_admin_passkey_link(key_id=admin.key_id).secret)
    block = _bash_block(page("cli"), "## Migrating the ledger back\n")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def run(commands: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-e", "-c", commands], cwd=tmp_path, env=environment,
                              capture_output=True, text=True)

    def ledger(query: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(tmp_path / "var" / "optinface.db")) as connection:
            return connection.execute(query).fetchall()

    head = ledger("SELECT version_num FROM alembic_version")
    refused = run(block.replace(" -x drop_admin_mfa=1", ""))
    assert refused.returncode != 0 and "drop_admin_mfa=1" in refused.stderr
    assert ledger("SELECT version_num FROM alembic_version") == head  # nothing changed,
    assert ledger("SELECT count(*) FROM pragma_table_info('incidents')"  # 0029's step included
                  " WHERE name = 'regulator_delay_reason'") == [(1,)]
    asked = run(block)
    assert asked.returncode == 0, asked.stderr
    assert ledger("SELECT version_num FROM alembic_version") == [("0027",)]
    assert ledger("SELECT name FROM sqlite_master WHERE name = 'admin_passkeys'") == []
    assert ledger("SELECT count(*) FROM passkey_credentials"
                  " WHERE capacity = 'admin-passkey'") == [(0,)]
