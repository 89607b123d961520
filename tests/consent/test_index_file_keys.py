"""An index file saved before an erasure opens with no key once the erasure commits.

Each saved index file's data key is wrapped under a key-store key of its own, and every
destruction of templates destroys every such key (consent.keys.destroy_index_file_keys): the
file of a stopped worker, the one a CLI run leaves in its own data directory and any copy of a
running worker's file from before no longer decrypt, even with the key store of the day. These
tests try, with the real key stores (files, and SoftHSM2 in test_pkcs11_store.py) and databases.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.errors import IndexCorrupt
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world
from tests.support.files import open_index_copy, protected_probe, readable_occurrences
from tests.support.files import template_bytes as stored_template
from tests.support.postgres import PostgresServer


def _copy(path: Path, destination: Path) -> Path:
    shutil.copy2(path, destination)
    return destination


@both_backends
def test_a_copy_of_the_index_file_from_before_an_erasure_opens_with_no_key_once_it_commits(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], open_service: Callable[[], OptinFace], tmp_path: Path,
) -> None:
    """The outside tester's attack, without waiting for an epoch rotation: copy the index file,
    erase, open the copy with today's key store and search it with a new photo."""
    erased, consent = world.subject()
    kept, kept_consent = world.subject()
    template = world.enrol(erased, consent, portrait_jpegs[0])
    kept_template = world.enrol(kept, kept_consent, portrait_jpegs[1])
    _, protected = stored_template(service, template.id)
    service.index.save()
    copy = _copy(settings.index_path, tmp_path / "old-index.hnsw")
    new_photo = protected_probe(service, flipped_jpegs[0])
    [hit, _] = open_index_copy(service, copy).search(new_photo, 2)
    assert hit.label == template.id and hit.score > 0.8  # the copy is worth attacking

    service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    with pytest.raises(IndexCorrupt, match="destroyed"):
        open_index_copy(service, copy)
    # The live file is saved again under a new key: it opens, without the erased template.
    service.settle()
    assert open_index_copy(service, settings.index_path).labels() == {kept_template.id}
    assert readable_occurrences(service, protected) == []
    assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"
    service.close()
    with closing(open_service()) as reopened:  # loaded, not rebuilt
        report = reopened.last_reconcile
        assert report is not None and report.index_discarded is None and report.re_added == 0
        assert reopened.verify_audit().ok


def _worker(settings: ConsentSettings, name: str) -> ConsentSettings:
    """The same ledger, key store and witness folder; a data directory of its own."""
    return settings.model_copy(update={"data_dir": settings.data_dir.with_name(name)})


def test_stopped_workers_and_cli_runs_keep_no_index_file_that_opens_after_an_erasure(
    settings: ConsentSettings, postgres: PostgresServer, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], tmp_path: Path,
) -> None:
    """The outside tester's reproduction on PostgreSQL: workers A, B, C; C stopped; a CLI run
    in its own data directory; an erasure on A. C's and the CLI's files, and a copy of running
    B's file from before, do not open with the key store; B goes on serving and saves again;
    C starts again, rebuilt from the ledger, and serves without the erased person."""
    shared = settings.model_copy(update={"database_url": postgres.new_database()})
    b_settings, c_settings = _worker(shared, "worker-b"), _worker(shared, "worker-c")
    cli_settings = _worker(shared, "data-cli")
    with (closing(OptinFace.open(shared, pipeline=pipeline, clock=clock)) as a,
          closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as b):
        world = make_world(a, clock)
        c = OptinFace.open(c_settings, pipeline=pipeline, clock=clock)
        erased, consent = world.subject()
        kept, kept_consent = world.subject()
        template = world.enrol(erased, consent, portrait_jpegs[2])
        kept_template = world.enrol(kept, kept_consent, portrait_jpegs[3])
        for worker in (b, c):
            worker.settle()
            assert template.id in worker.index.labels()
        c.close()  # stopped: its file holds the template
        OptinFace.open(cli_settings, pipeline=pipeline, clock=clock).close()  # a CLI run
        b.index.save()
        b_copy = _copy(b_settings.index_path, tmp_path / "b-before.hnsw")
        new_photo = protected_probe(a, flipped_jpegs[2])
        left_behind = [c_settings.index_path, cli_settings.index_path, b_copy]
        for path in left_behind:  # each is worth attacking before the erasure
            assert open_index_copy(a, path).search(new_photo, 1)[0].label == template.id

        a.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
        for path in left_behind:
            with pytest.raises(IndexCorrupt, match="destroyed"):
                open_index_copy(a, path)

        # B, running, saves its index again under a new key, without the erased template.
        b.settle()
        assert not b.index.key_destroyed() and template.id not in b.index.labels()
        assert open_index_copy(b, b_settings.index_path).labels() == {kept_template.id}
        assert world.verify(kept, portrait_jpegs[3]).outcome == "candidates_for_review"
        b_world = replace(world, service=b)
        assert b_world.identify(flipped_jpegs[3]).candidates[0].subject == kept

        with closing(OptinFace.open(c_settings, pipeline=pipeline, clock=clock)) as c:
            report = c.last_reconcile
            assert report is not None and "destroyed" in (report.index_discarded or "")
            assert c.index.labels() == {kept_template.id} and report.re_added == 1
            c_world = replace(world, service=c)
            found = c_world.identify(flipped_jpegs[2])
            assert erased not in [candidate.subject for candidate in found.candidates]
            assert c_world.identify(flipped_jpegs[3]).candidates[0].subject == kept
        assert a.verify_audit().ok
    with closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as b:
        report = b.last_reconcile  # B restarts cleanly from the file it saved again
        assert report is not None and report.index_discarded is None and report.re_added == 0
    # `optinface audit verify` from the CLI's own data directory, as the tester ran it.
    verified = CliRunner().invoke(
        app, ["audit", "verify", "--data-dir", str(cli_settings.data_dir)],
        env={"OPTINFACE_DATABASE_URL": shared.database_url,
             "OPTINFACE_KEY_DIR": str(shared.keys_dir),
             "OPTINFACE_AUDIT_WITNESS_DIR": str(shared.witness_dir)})
    assert verified.exit_code == 0, verified.output


def test_a_file_a_lagging_worker_saved_after_the_erasure_opens_no_more_once_it_catches_up(
    settings: ConsentSettings, postgres: PostgresServer, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], tmp_path: Path,
) -> None:
    """The narrow case the sweeps cannot reach: B, whose change feed lags, saves its index
    after the erasure's last sweep, still holding the erased vector, under a new key no sweep
    destroyed. Once B applies the removal it saves whole again and destroys that key, so a
    copy of that file opens no more."""
    shared = settings.model_copy(update={"database_url": postgres.new_database()})
    b_settings = _worker(shared, "worker-b")
    with (closing(OptinFace.open(shared, pipeline=pipeline, clock=clock)) as a,
          closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as b):
        world = make_world(a, clock)
        erased, consent = world.subject()
        template = world.enrol(erased, consent, portrait_jpegs[4])
        b.settle()
        assert template.id in b.index.labels()
        assert b.replica is not None
        b.replica.stop()  # B lags
        a.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
        b.index.save()  # its key was destroyed: whole, under a new key, the vector still in it
        copy = _copy(b_settings.index_path, tmp_path / "b-after.hnsw")
        new_photo = protected_probe(a, flipped_jpegs[4])
        assert open_index_copy(a, copy).search(new_photo, 1)[0].label == template.id

        b.replica.follow()
        b.settle()
        with pytest.raises(IndexCorrupt, match="destroyed"):
            open_index_copy(a, copy)
        assert open_index_copy(b, b_settings.index_path).labels() == set()
