"""A start parses the erasure journal whole once (benchmarks/README.md, ``bench_first_use``'s
journal part: 0.55 s a parse at 100,000 lines, paid twice and more before).

Reconciliation's parse is handed to the journal's ends (``JournalEnds.entries``), whose first
check then reads only what was appended since, and the other whole-journal question
(``JournalEnds.erased_subjects``: an epoch rotation, erasures left half done) is answered from
the ends. What the parses cost is counted by a wrapper around the real ``parse_lines``, the one
function every read of the journal goes through, on the real journal file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

import pytest

from optinface.consent import erasure_journal, journal_ends
from optinface.consent.erasure_journal import Entry, JournalEntry, KeyRevoked, journal_path
from optinface.consent.roles import Role
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, make_world, second_worker

LINES = 50
"""Lines of each kind journaled before the start measured."""


@dataclass
class Parses:
    """The bytes each call of ``parse_lines`` was given, an empty tail's left out."""

    sizes: list[int] = field(default_factory=list)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Parses:
    """Every parse of the journal from here on, counted around the real function."""
    counted, real = Parses(), erasure_journal.parse_lines

    def counting(data: bytes) -> list[Entry]:
        if data:
            counted.sizes.append(len(data))
        return real(data)

    monkeypatch.setattr(erasure_journal, "parse_lines", counting)
    monkeypatch.setattr(journal_ends, "parse_lines", counting)
    return counted


@dataclass(frozen=True)
class Journaled:
    erased: list[str]  # tombstone hashes
    keys: list[str]  # API key ids


def _journal_lines(service: OptinFace, clock: FakeClock) -> Journaled:
    """:data:`LINES` erasures and revocations naming no row of this ledger (ids as the service
    makes them)."""
    lines = Journaled(erased=[secrets.token_hex(32) for _ in range(LINES)],
                      keys=["k_" + secrets.token_hex(8) for _ in range(LINES)])
    erasure_journal.record(
        service.runtime,
        *(JournalEntry(subject_hash=h, reason=ErasureReason.REQUEST, at=clock.now())
          for h in lines.erased),
        *(KeyRevoked(key_id=key, at=clock.now()) for key in lines.keys))
    return lines


def _journal_size(service: OptinFace) -> int:
    return erasure_journal.journal_size(journal_path(service.settings.witness_dir))


@both_backends
def test_a_start_parses_the_journal_once_and_the_ends_ask_it_no_more(
    open_service: Callable[[], OptinFace], clock: FakeClock, parses: Parses,
) -> None:
    """The start's reconciliation parses the whole journal; the first check, the question of
    who was erased (a rotation's, an unfinished erasure's) and every later check parse
    nothing more while the journal does not grow, and find what it holds."""
    with closing(open_service()) as service:
        journaled = _journal_lines(service, clock)
    parses.sizes.clear()
    with closing(open_service()) as service:
        size = _journal_size(service)
        assert parses.sizes == [size]  # one whole parse by the start
        ends = service.runtime.journal_ends
        assert ends.erased_subjects() >= set(journaled.erased)
        assert ends.key_revoked(journaled.keys[-1])
        assert not ends.key_revoked("k_" + "0" * 16)
        assert parses.sizes == [size]


def test_a_line_another_worker_appends_after_the_start_is_seen_by_the_next_check(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock, parses: Parses,
) -> None:
    """Worker A starts on a journal; worker B (same ledger and witness folder) then revokes a
    key: A's next check reads only B's line, and refuses the key by the journal."""
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as service:
        _journal_lines(service, clock)
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as a:
        world = make_world(a, clock)
        key = a.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="revoked by B")
        with closing(OptinFace.open(second_worker(pg_settings), pipeline=pipeline,
                                    clock=clock)) as b:
            before = _journal_size(a)
            parses.sizes.clear()
            b.revoke_api_key(actor=world.admin, key_id=key.key_id)
            assert parses.sizes == []  # B's write parses nothing
            assert a.runtime.journal_ends.key_revoked(key.key_id)
            assert parses.sizes == [_journal_size(a) - before]


def test_another_file_put_in_the_journals_place_after_the_start_is_read_whole(
    open_service: Callable[[], OptinFace], clock: FakeClock, parses: Parses,
) -> None:
    """The ends take up the start's parse only for the file it parsed: a journal of the same
    length renamed over it before the first check, one of its lines another, is read whole
    and that line found."""
    with closing(open_service()) as service:
        old = _journal_lines(service, clock).keys[0]
    with closing(open_service()) as service:
        path = journal_path(service.settings.witness_dir)
        new = "k_" + "0" * 16
        copy = path.with_name("copy.jsonl")
        copy.write_bytes(path.read_bytes().replace(old.encode(), new.encode()))
        parses.sizes.clear()
        os.replace(copy, path)
        assert service.runtime.journal_ends.key_revoked(new)
        assert parses.sizes == [_journal_size(service)]


def test_another_file_put_in_the_journals_place_later_is_read_whole_at_the_next_check(
    open_service: Callable[[], OptinFace], clock: FakeClock, parses: Parses,
) -> None:
    """Not only before the first check: a journal of the same length, one line another, renamed
    over the one the ends read at any later check, is read whole at the next, and what the
    rotations and unfinished erasures ask (``erased_subjects``) follows it."""
    with closing(open_service()) as service:
        journaled = _journal_lines(service, clock)
    with closing(open_service()) as service:
        ends = service.runtime.journal_ends
        assert ends.key_revoked(journaled.keys[0])  # a first check: the ends read on from here
        path = journal_path(service.settings.witness_dir)
        old, new = journaled.erased[0], "0" * 64
        copy = path.with_name("copy.jsonl")
        copy.write_bytes(path.read_bytes().replace(old.encode(), new.encode()))
        os.replace(copy, path)
        erased = ends.erased_subjects()
        assert new in erased and old not in erased


def test_a_journal_gone_after_it_was_read_leaves_the_ends_and_refuses_the_erased_list(
    open_service: Callable[[], OptinFace], clock: FakeClock,
) -> None:
    """The witness folder unmounted while serving: the journal's file gone is no empty journal;
    the ends read so far stand, and the list an epoch rotation must not take for "nobody
    erased" is refused (OSError), not answered empty."""
    with closing(open_service()) as service:
        journaled = _journal_lines(service, clock)
    with closing(open_service()) as service:
        ends = service.runtime.journal_ends
        assert ends.key_revoked(journaled.keys[0])
        path = journal_path(service.settings.witness_dir)
        aside = path.with_name("aside.jsonl")
        os.replace(path, aside)
        try:
            assert ends.key_revoked(journaled.keys[1])  # still known
            with pytest.raises(OSError):
                ends.erased_subjects()
        finally:
            os.replace(aside, path)  # mounted again, for the close
