"""What the erasure journal ended, asked again for every face a search finds.

The journal (:mod:`consent.erasure_journal`) lies in the witness folder, apart from the
database, and says for good which consents were withdrawn, which purposes were taken out of a
consent and which subjects were erased, and when each subject last opted out of 1:N search; also
which regulator's orders were placed and lifted, and which subjects were enrolled (a first
enrolment is the one line here that ends no processing: it ends the person's own route to
enrolling a face with nothing to compare it with, :mod:`consent.one_person`). Each start makes
the database agree with it again (:mod:`consent.reconcile`; the enrolments are asked, not
replayed). While the service runs, though, whoever can write the database
(a database administrator on PostgreSQL) could set a withdrawn consent back to active, put a
withdrawn purpose back, insert an erased subject's rows again, copy back an older opted-in row
(sealed, but with the time of an opt-in an opt-out came after), a revoked API key's older row or
a subject's "never enrolled" row and seal, and every check that reads rows would grant them until
the next start (the last for good: no start makes an enrolment again). So a search asks the
journal too, for each template it finds, an authentication for its key and its subject, every
lookup of a subject by its pseudonym whether it was erased, and every match's and enrolment's
gate for the orders it leaves in force (a deleted order row would otherwise lift its order),
and a self-service enrolment with nothing to compare the face with whether the subject was
enrolled before: a few lookups. The journal is read again only when it grew, from where it was
read up to; each worker of a shared ledger appends to the same file, so each sees the others' ends.
A start parses it whole once: reconciliation reads it through :meth:`JournalEnds.entries`, which
the ends take up, and the other whole-journal questions (:meth:`JournalEnds.erased_subjects`: an
epoch rotation, erasures left half done) are answered from the ends, read on from where they were.
Twice on the rare start whose earlier steps ask the ends first (the enrolment lines' adoption,
once after the upgrade; an epoch rotation a crash interrupted): reconciliation then parses again.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from optinface.consent.erasure_journal import (
    AlternativeTaken,
    Enrolled,
    Entry,
    FileIdentity,
    JournalEntry,
    KeyRevoked,
    OptedOut,
    OrderLifted,
    OrderPlaced,
    PurposeWithdrawn,
    Withdrawal,
    identity,
    journal_path,
    journal_stat,
    parse_lines,
    read,
)
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import tombstone_hash

logger = logging.getLogger(__name__)

WITHDRAWN = "withdrawn_in_journal"
PURPOSE_WITHDRAWN = "purpose_withdrawn_in_journal"
ERASED = "erased_in_journal"
OPTED_OUT = "opted_out_in_journal"


@dataclass(slots=True)
class _Ended:
    consents: set[str] = field(default_factory=set)
    purposes: set[tuple[str, str]] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)  # tombstone hashes, never pseudonyms
    # The latest opt-out of 1:N search (or choice of the alternative) by tombstone hash.
    opted_out: dict[str, datetime] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # keys and tokens revoked, by public id
    # The journal's last line on each regulator's order by reference: replaced whole, never
    # changed, since the gate goes through it outside the lock.
    orders: dict[str, OrderPlaced | OrderLifted] = field(default_factory=dict)
    # The subjects enrolled (first enrolments), by tombstone hash, less those erased since: an
    # erasure line refuses the pseudonym for good (erased), and a pseudonym is never given again.
    enrolled: set[str] = field(default_factory=set)
    read_up_to: int = 0  # bytes of the journal read, whole lines only
    tail: bytes = b""  # what follows them: a line torn, or being appended


class JournalEnds:
    """The ends the journal in ``witness_dir`` records, kept up to date with the file."""

    def __init__(self, witness_dir: Path) -> None:
        self._witness_dir = witness_dir
        self._path = journal_path(witness_dir)
        self._ended = _Ended()
        self._lock = threading.Lock()
        self._unreadable: str | None = None  # the last read's error, logged once
        # The file the ends were read from (:meth:`entries`' parse, or a check's read): another
        # in its place (a copy renamed over it) is read whole at the next check, whatever its
        # length, as a first read would read it.
        self._file: FileIdentity | None = None

    def problem(self, keys: KeyRing, *, consent_id: str, purpose_id: str,
                pseudonym: str) -> str | None:
        """Why the journal says this use of a template ended (its consent withdrawn, the
        purpose taken out of it, its subject erased), or None."""
        ended = self._current()
        if consent_id in ended.consents:
            return WITHDRAWN
        if (consent_id, purpose_id) in ended.purposes:
            return PURPOSE_WITHDRAWN
        if self.erased(keys, pseudonym):
            return ERASED
        return None

    def erased(self, keys: KeyRing, pseudonym: str) -> bool:
        """Whether the journal erased the subject ``pseudonym``: asked on every way into a
        subject (:func:`consent.ledger.get_subject`, a subject token's authentication), so
        rows a restored copy holds, or put back by SQL, open nothing before the replay
        erases them again. One keyed hash and a set lookup, none while nobody was erased."""
        subjects = self._current().subjects
        return bool(subjects) and tombstone_hash(keys, pseudonym) in subjects

    def enrolled(self, keys: KeyRing, pseudonym: str) -> bool:
        """Whether the journal records a first enrolment of the subject ``pseudonym``: asked by
        a self-service enrolment with no template to compare the face with
        (:mod:`consent.one_person`), whatever the row and its seal say. One keyed hash and a
        set lookup, none while the journal records no enrolment."""
        enrolled = self._current().enrolled
        return bool(enrolled) and tombstone_hash(keys, pseudonym) in enrolled

    def enrolled_hashes(self) -> frozenset[str]:
        """The keyed tombstone hashes of every first enrolment the journal records, read once:
        for a pass over many subjects (:mod:`consent.enrolment_lines`), which hashes each once
        and asks no stat of the journal per subject."""
        return frozenset(self._current().enrolled)

    def key_revoked(self, key_id: str) -> bool:
        """Whether the journal revoked the API key or subject token ``key_id`` (a portal
        session's, at its end)."""
        return key_id in self._current().keys

    def orders(self) -> Mapping[str, OrderPlaced | OrderLifted]:
        """The journal's last word on each regulator's order it names, by reference: an order
        placed (in force) or lifted. The gate sets it against the rows in force
        (:class:`consent.declaration.RegisterReads`), so an order whose row is gone, or never
        committed, is still in force on every worker that shares the witness folder."""
        return self._current().orders

    def opt_out_problem(self, keys: KeyRing, *, pseudonym: str,
                        opted_in_at: datetime | None) -> str | None:
        """:data:`OPTED_OUT` when the journal keeps an opt-out of this subject (or their
        choice of the non-biometric alternative) at or after the opt-in the row is sealed with
        (:func:`consent.row_seals.set_opt_in`): an older opted-in row copied back after it."""
        ended = self._current()
        if not ended.opted_out:
            return None
        out = ended.opted_out.get(tombstone_hash(keys, pseudonym))
        return OPTED_OUT if out is not None and (opted_in_at is None or out >= opted_in_at) \
            else None

    def entries(self) -> list[Entry]:
        """Every entry of the journal, read and parsed whole (:func:`erasure_journal.read`):
        reconciliation's, at each start and each live replay. Ends that have read nothing yet (a
        start's: reconciliation comes before the first check) take up the lines it parsed, up to
        the byte it parsed to, so a start parses the journal once and their first check reads
        only what was appended since (another file in its place, or a shorter journal, is read
        again whole, as at every check)."""
        whole = read(self._witness_dir)
        with self._lock:
            if self._ended.read_up_to == 0:
                ended = _Ended(read_up_to=whole.up_to, tail=whole.tail)
                _take_up(ended, whole.whole)
                self._ended, self._file = ended, whole.file
        return whole.entries

    def erased_subjects(self) -> frozenset[str]:
        """The tombstone hashes of every erasure the journal records, a last line without its
        newline's too, as a whole read finds them: those an epoch rotation must not re-wrap the
        keys of (:mod:`consent.epochs`), and those whose interrupted erasure is journaled
        already (:func:`consent.erasure.finish_interrupted`). From the ends, read on from where
        they were, not parsed whole again.

        Raises:
            OSError: the journal cannot be read: each caller decides what that means (an epoch
                rotation must not take it for "nobody erased").
        """
        with self._lock:
            self._refresh(strict=True)
            ended = self._ended
            return frozenset(ended.subjects).union(
                entry.subject_hash for entry in parse_lines(ended.tail)
                if isinstance(entry, JournalEntry))

    def _current(self) -> _Ended:
        """The ends, with the lines appended since the last read (:meth:`_refresh`)."""
        with self._lock:
            self._refresh(strict=False)
            return self._ended

    def _refresh(self, *, strict: bool) -> None:
        """Read the lines appended since the last read (the lock held); a journal shorter than
        what was read is read again whole, and so is another file than the one the ends were read
        from (a copy renamed over it; compared at every check, one stat). A journal that cannot
        be read (the witness folder unmounted, something else in its place, the file gone after
        lines were read from it) leaves the ends read so far, said once in the operator's log:
        refusing every search and every key over it would stop the erasures and withdrawals too,
        and an act that must be journaled is refused anyway while the journal cannot be written
        (``witness_unusable``). ``strict``: raise that OSError too, once logged."""
        try:
            stat = journal_stat(self._path)
            if stat is None and self._ended.read_up_to:  # gone after being read: unmounted,
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))  # not emptied
            size = 0 if stat is None else stat.st_size
            replaced = (stat is not None and self._file is not None
                        and identity(stat) != self._file)
            if size < self._ended.read_up_to or replaced:
                self._ended = _Ended()
            if stat is not None:
                self._file = identity(stat)
            if size > self._ended.read_up_to:
                self._read_on()
            self._unreadable = None
        except OSError as error:
            if self._unreadable != error.strerror:
                logger.error("erasure journal %s cannot be read (%s): searches and keys are"
                             " checked against the ends read before", self._path,
                             error.strerror)
            self._unreadable = error.strerror
            if strict:
                raise

    def _read_on(self) -> None:
        """Read the whole lines appended since the ends were read, and what follows them."""
        ended = self._ended
        with open(self._path, "rb") as journal:
            journal.seek(ended.read_up_to)
            appended = journal.read()
        whole = appended[: appended.rfind(b"\n") + 1]  # a line being appended waits
        _take_up(ended, parse_lines(whole))
        ended.read_up_to += len(whole)
        ended.tail = appended[len(whole):]


def _take_up(ended: _Ended, entries: Iterable[Entry]) -> None:
    """Add to ``ended`` what ``entries``, read in the journal's order, end."""
    orders = dict(ended.orders)
    for entry in entries:
        if isinstance(entry, Withdrawal):
            ended.consents.add(entry.consent_id)
        elif isinstance(entry, PurposeWithdrawn):
            ended.purposes.add((entry.consent_id, entry.purpose_id))
        elif isinstance(entry, JournalEntry):
            ended.subjects.add(entry.subject_hash)
            ended.enrolled.discard(entry.subject_hash)
        elif isinstance(entry, Enrolled):
            if entry.subject_hash not in ended.subjects:
                ended.enrolled.add(entry.subject_hash)
        elif isinstance(entry, KeyRevoked):
            ended.keys.add(entry.key_id)
        elif isinstance(entry, OptedOut | AlternativeTaken):
            ended.opted_out[entry.subject_hash] = max(
                entry.at, ended.opted_out.get(entry.subject_hash, entry.at))
        elif isinstance(entry, OrderPlaced | OrderLifted):
            orders[entry.reference] = entry
    ended.orders = orders
