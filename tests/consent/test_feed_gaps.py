"""A change feed edited or gone back: each worker's replica reconciles its index with the
ledger instead of trusting the feed (red team 5: F4, and F2's feed part; consent.replica).

Two services on one PostgreSQL ledger in this process, as in test_workers.py; the database's
owner deletes rows of the feed, or restores an older dump behind both.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.errors import LedgerRestored
from optinface.consent.replica import FollowerStuck
from optinface.consent.schemas import AuditFilter, ErasureReason, SearchOutcome
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import (
    FakeClock,
    World,
    enrolled_seen_by,
    make_world,
    outside_sql,
    refused,
    second_worker,
)
from tests.support.files import readable_occurrences_now, template_bytes
from tests.support.postgres import PostgresServer

# The tester's trigger (/tmp/rt5-work/t5_feed.py) deleted each removal as it was recorded; a
# trigger on the ledger now stops the erasure itself (consent.ledger_alterations), so the
# removal is deleted by the database's owner while B is paused, before B could read it.
DROP_REMOVALS = "DELETE FROM index_changes WHERE op = 'remove'"


def _subject_after_the_restore(world: World) -> tuple[str, str]:
    """A new subject through ``world``'s worker once it has found the ledger restored behind
    it: its first write after the load finds it (refused, ``ledger_restored``) unless another
    of its writes already did, then it replays the journal before anything else
    (consent.live_replay)."""
    try:
        return world.subject()
    except LedgerRestored:
        world.service.settle()
        return world.subject()


def _reconciled(world: World) -> list[dict[str, Any]]:
    """The details of the ``replica_reconciled`` events of ``world``'s worker, oldest first
    (the other worker, reading the same feed, chains its own)."""
    events = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.REPLICA_RECONCILED)).events
    worker = str(world.service.settings.data_dir)
    return [dict(event.details) for event in events if event.details["worker"] == worker]


def _row(vector: bytes) -> np.ndarray:
    return np.frombuffer(vector, dtype=np.float32)


def _erased_behind_the_feed(a: World, b: World, image: bytes) -> tuple[int, bytes]:
    """A subject enrolled through A and held by B (in memory and in its saved file), then
    erased through A with every removal deleted from the feed before B, paused, read it: the
    template's id and vector."""
    pseudonym, template = enrolled_seen_by(a, b, image)
    b.service.index.save()
    _, vector = template_bytes(a.service, template.id)
    assert readable_occurrences_now(b.service, vector)  # the scan below can fail
    assert b.service.replica is not None
    b.service.replica.stop()
    a.service.erase(actor=a.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    outside_sql(a.service, DROP_REMOVALS)
    b.service.replica.follow()
    return template.id, vector


def test_a_removal_deleted_from_the_feed_is_scrubbed_from_the_other_worker_at_its_next_change(
    workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    """F4, the tester's trigger reduced: A's next enrolment leaves a number missing below the
    feed's head, so B reconciles its index with the ledger: the erased vector leaves B's memory
    and its index file, the new template arrives, and B chains it once."""
    a, b = workers
    erased, vector = _erased_behind_the_feed(a, b, portrait_jpegs[0])
    b.service.settle()
    assert erased in b.service.index.labels()  # B was never told: the finding
    _, added = enrolled_seen_by(a, b, portrait_jpegs[1])
    assert erased not in b.service.index.labels() and not b.service.index.holds(_row(vector))
    assert readable_occurrences_now(b.service, vector) == []
    [event] = _reconciled(b)
    # The new template came after the gap: added by the reconciliation, from the ledger.
    assert (event["cause"], event["removed"], event["re_added"]) == ("feed_gap", 1, 1)
    assert added.id in b.service.index.labels()


def test_a_removal_that_was_the_feeds_last_row_is_scrubbed_within_the_comparison_interval(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes]
) -> None:
    """No change follows the lost removal, so no gap shows: B's follower compares its labels
    with the ledger's template ids every ``audit_witness_interval_seconds`` (here 0.5 s) and
    scrubs the erased vector from memory and file, chained once as the comparison's finding
    (nothing is chained while nothing differs)."""
    often = second_worker(pg_settings).model_copy(
        update={"audit_witness_interval_seconds": 0.5})
    with (closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as service_a,
          closing(OptinFace.open(often, pipeline=pipeline, clock=clock)) as service_b):
        a = make_world(service_a, clock)
        b = replace(a, service=service_b)
        erased, vector = _erased_behind_the_feed(a, b, portrait_jpegs[0])
        deadline = time.monotonic() + 30
        while erased in service_b.index.labels() and time.monotonic() < deadline:
            time.sleep(0.1)
        service_b.settle()  # the whole save that followed the scrub
        assert erased not in service_b.index.labels() and not service_b.index.holds(_row(vector))
        assert readable_occurrences_now(service_b, vector) == []
        time.sleep(1.5)  # three more comparisons, each finding nothing
        [event] = _reconciled(b)
        assert (event["cause"], event["removed"]) == ("index_differed", 1)


def test_a_comparison_leaves_to_the_feed_the_changes_its_worker_has_not_applied(
    workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    """An enrolment and an erasure through A, committed after B last read the feed, are no
    difference for B's comparison (CI saw one: B's comparison added A's new template and
    chained ``index_differed``): B's pass compares first, leaves both to the feed, and applies
    them from it right after, chaining nothing."""
    a, b = workers
    erased, held = enrolled_seen_by(a, b, portrait_jpegs[0])
    assert b.service.replica is not None
    b.service.replica.stop()
    a.service.erase(actor=a.admin, subject=erased, reason=ErasureReason.REQUEST)
    pseudonym, consent_id = a.subject()
    added = a.enrol(pseudonym, consent_id, portrait_jpegs[1])
    b.service.replica.catch_up(compare=True)
    labels = b.service.index.labels()
    assert added.id in labels and held.id not in labels
    assert _reconciled(b) == []


def test_a_replica_pass_that_finds_the_restore_puts_nothing_of_the_copy_in_the_index(
    workers: tuple[World, World], postgres: PostgresServer, tmp_path: Path,
    portrait_jpegs: list[bytes],
) -> None:
    """Review 19b, #3: B's pass over a dump loaded behind it repaired its index from the copy
    (the erased template back in memory) before its event's append found the restore and
    rolled the transaction back, the index change left in place. The restore is vetted first
    now: the pass is refused before it touches the index, and the replay erases again."""
    a, b = workers
    url = a.service.settings.url
    erased, template = enrolled_seen_by(a, b, portrait_jpegs[0])
    dump = postgres.dump(url, tmp_path / "dump.sql", clean=True)
    a.service.erase(actor=a.admin, subject=erased, reason=ErasureReason.REQUEST)
    b.service.settle()  # B's follower scrubbed it
    b.subject()  # B's tail is past the copy
    assert b.service.replica is not None and template.id not in b.service.index.labels()
    b.service.replica.stop()
    postgres.load(dump, url)  # behind both
    with pytest.raises(LedgerRestored):
        b.service.replica.catch_up(compare=True)  # the feed gone back: a whole comparison
    assert template.id not in b.service.index.labels()
    b.service.settle()
    assert template.id not in b.service.index.labels()
    assert _reconciled(b) == []


def test_while_a_dump_is_loading_the_follower_waits_then_reconciles(
    workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    """A ledger table without its primary key is a plain dump being loaded (``psql -f`` adds
    the keys after every row): B's follower, finding the gap, neither repairs nor writes its
    event, whose number the dump's rows could repeat, and ``settle()`` says it is not there;
    once the key is back, B reconciles."""
    a, b = workers
    erased, vector = _erased_behind_the_feed(a, b, portrait_jpegs[0])
    outside_sql(a.service, "ALTER TABLE index_changes DROP CONSTRAINT index_changes_pkey")
    pseudonym, consent_id = a.subject()
    a.enrol(pseudonym, consent_id, portrait_jpegs[1])  # the gap
    with pytest.raises(FollowerStuck):
        b.service.settle(within=2.0)
    assert erased in b.service.index.labels() and _reconciled(b) == []
    outside_sql(a.service, "ALTER TABLE index_changes ADD PRIMARY KEY (seq)")
    b.service.settle()
    assert erased not in b.service.index.labels() and not b.service.index.holds(_row(vector))
    assert [event["cause"] for event in _reconciled(b)] == ["feed_gap"]


def test_a_template_id_handed_out_again_replaces_the_vector_the_other_worker_held(
    workers: tuple[World, World], portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """The feed intact, the ledger's template ids set back in SQL: while B was paused, A
    erased a subject and enrolled another, whose template took the erased one's id. B then
    applies a removal and an addition of the same id in one batch: the last one wins, and the
    vector it adds replaces the erased one's in memory and file."""
    a, b = workers
    assert b.service.replica is not None
    erased_subject, erased = enrolled_seen_by(a, b, portrait_jpegs[0])
    _, erased_vector = template_bytes(a.service, erased.id)
    b.service.replica.stop()
    a.service.erase(actor=a.admin, subject=erased_subject, reason=ErasureReason.REQUEST)
    outside_sql(a.service, "SELECT setval(pg_get_serial_sequence('templates', 'id'), :id,"
                " false)", id=erased.id)
    pseudonym, consent_id = a.subject()
    added = a.enrol(pseudonym, consent_id, portrait_jpegs[1])
    _, vector = template_bytes(a.service, added.id)
    assert added.id == erased.id
    b.service.replica.follow()
    b.service.settle()
    assert not b.service.index.holds(_row(erased_vector))
    assert readable_occurrences_now(b.service, erased_vector) == []
    assert b.service.index.differing([added.id], _row(vector)) == []
    assert [c.subject for c in b.identify(flipped_jpegs[1]).candidates] == [pseudonym]


@pytest.mark.parametrize("paused", [False, True], ids=["following", "paused"])
def test_after_an_older_dump_is_restored_the_other_worker_holds_what_the_ledger_holds(
    workers: tuple[World, World], postgres: PostgresServer, tmp_path: Path, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], paused: bool
) -> None:
    """F2's feed part: a dump taken, a subject enrolled through A (B applies it), the dump
    loaded behind both running workers, then a subject enrolled through A again. The feed and
    the template ids went back: A's new template takes the number B applied last and the id
    of the template the restore took away. Following, B finds the feed's head behind its
    position before that; paused until after it, B finds the row it applied last replaced.
    Either way B reconciles with the ledger, vectors compared, not labels alone: the template
    the restore took away leaves B's memory, the new one is held under its id, with its own
    vector, and found through B; chained once."""
    a, b = workers
    url = a.service.settings.database_url
    assert url is not None and b.service.replica is not None
    dump = postgres.dump(url, tmp_path / "older.sql", clean=True)
    _, gone = enrolled_seen_by(a, b, portrait_jpegs[0])
    _, gone_vector = template_bytes(a.service, gone.id)
    if paused:
        b.service.replica.stop()
    postgres.load(dump, url)
    if not paused:
        b.service.settle()
        assert gone.id not in b.service.index.labels()
    clock.advance(seconds=1)  # the new row is written after the one it replaces
    pseudonym, consent_id = _subject_after_the_restore(a)
    added = a.enrol(pseudonym, consent_id, portrait_jpegs[1])
    _, vector = template_bytes(a.service, added.id)
    assert added.id == gone.id  # the restored ledger handed the id out again
    if paused:
        b.service.replica.follow()
    b.service.settle()
    assert not b.service.index.holds(_row(gone_vector))
    assert b.service.index.differing([added.id], _row(vector)) == []
    # A signed its spends into the witness folder before the dump was loaded, so B's first
    # spend (the probe link) finds the log shorter than that checkpoint: committed, not
    # answered, while B replays the erasure journal (consent/spent_rights.py).
    refused("committed_not_served", lambda: b.identify(flipped_jpegs[1]))
    b.service.settle()
    found = b.identify(flipped_jpegs[1])
    assert found.outcome is SearchOutcome.CANDIDATES
    assert [c.subject for c in found.candidates] == [pseudonym]
    [event] = _reconciled(b)
    assert event["cause"] == "feed_rewound"
    assert (event["removed"], event["re_added"]) == ((1, 0) if not paused else (0, 1))


def test_a_worker_stopped_across_a_restore_finds_the_feed_gone_back_at_its_start(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    postgres: PostgresServer, tmp_path: Path, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes]
) -> None:
    """The row B applied last is saved with its number beside B's index file: B, stopped
    while the dump was loaded and a template enrolled through A took that number and the id
    B holds, finds at its next start the row replaced, and holds the new template's vector
    under the id, not the one its file kept."""
    url = pg_settings.database_url
    assert url is not None
    b_settings = second_worker(pg_settings)
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as service_a:
        a = make_world(service_a, clock)
        service_b = OptinFace.open(b_settings, pipeline=pipeline, clock=clock)
        dump = postgres.dump(url, tmp_path / "older.sql", clean=True)
        _, gone = enrolled_seen_by(a, replace(a, service=service_b), portrait_jpegs[0])
        _, gone_vector = template_bytes(service_a, gone.id)
        service_b.close()  # its index file, and the change it applied last
        postgres.load(dump, url)
        clock.advance(seconds=1)
        pseudonym, consent_id = _subject_after_the_restore(a)
        added = a.enrol(pseudonym, consent_id, portrait_jpegs[1])
        _, vector = template_bytes(service_a, added.id)
        assert added.id == gone.id
        with closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as reopened:
            b = replace(a, service=reopened)
            assert not reopened.index.holds(_row(gone_vector))
            assert reopened.index.differing([added.id], _row(vector)) == []
            assert [c.subject for c in b.identify(flipped_jpegs[1]).candidates] == [pseudonym]
            assert [event["cause"] for event in _reconciled(b)] == ["feed_rewound"]
