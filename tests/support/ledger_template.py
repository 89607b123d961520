"""A migrated, empty SQLite ledger, made once per test process and copied where a test's
deployment opens its first ledger, in place of migrating each one from nothing.

Migrating a fresh ledger (every revision of ``consent/migrations``, table by table) took about
0.3 s of the 0.8 s a test deployment took to open on the 2-core VM, paid by well over a
thousand tests. The copy is what the service's own :func:`consent.db.migrate` made, and the
service still runs it at every start (at the head revision it has nothing to do), so what the
tests open is the same ledger, and ``tests/consent/test_migrations.py``'s check that the
migrations build the schema the models declare still checks what they build. The commands'
tests copy it too, where their bootstrap ``keys create`` makes the deployment
(``tests/support/console.seeded_for_bootstrap``). Every server and command the suite starts in
a process of its own (``tests/support/server.py``, the CLI tests) migrates its ledger from
nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

from optinface.consent.db import sqlite_file
from optinface.consent.settings import ConsentSettings
from optinface.engine.files import PRIVATE_MODE
from tests.support.migrations import migrated_as_at_start

TEMPLATE = "template.db"
"""The template's own file name, in its own folder (a copy goes where the settings say)."""


@cache
def _migrated() -> tempfile.TemporaryDirectory[str]:
    """The folder holding this process's migrated ledger (removed when the process ends)."""
    folder = tempfile.TemporaryDirectory(prefix="optinface-ledger-")
    migrated_as_at_start(f"sqlite:///{Path(folder.name) / TEMPLATE}")
    return folder


def seed_ledger(settings: ConsentSettings) -> None:
    """Copy the migrated ledger where ``settings`` keeps its SQLite ledger, if there is none
    there yet (a deployment's first start); nothing on PostgreSQL."""
    ledger = sqlite_file(settings.url)
    if ledger is None or ledger.exists():
        return
    template = Path(_migrated().name) / TEMPLATE
    assert not template.with_name(TEMPLATE + "-wal").exists(), "the template's WAL not folded"
    ledger.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, ledger)
    ledger.chmod(PRIVATE_MODE)
