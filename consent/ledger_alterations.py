"""Triggers, rules and row security on the ledger's tables: what can undo its writes in silence.

Whoever owns the database can attach to a table a trigger that keeps the rows a ``DELETE``
names (a ``BEFORE DELETE`` trigger returning ``NULL``; SQLite's ``RAISE(IGNORE)``), puts them
back when the transaction commits (a deferred constraint trigger), rewrites an ``UPDATE`` or
copies every row deleted; on PostgreSQL a rule (``DO INSTEAD NOTHING``) or a row-security
policy does as much. The statement then succeeds having done nothing, and SQLAlchemy at most
warns: an erasure signed a receipt for rows that were still there, and the next epoch
rotation re-wrapped the erased person's key (red team 5, F3).

The ledger's migrations make none (PostgreSQL's own foreign-key triggers are internal, and not
counted), so each one found was made by hand. Not every write can read back what it wrote, so
the service does not start on such a ledger: :func:`refuse`, at start (``ledger_altered``)
before it writes anything. A worker already running when one is made finds it:

- in the transaction of every write that must take effect at once, after its writes and
  before its receipt is signed or its answer given (:func:`require_held`: an erasure, a
  withdrawal of a consent or of a purpose, a template destroyed while its subject stays, an
  API key revoked, a subject token revoked): what it changed is read back, then what is found
  refused; by then the tables the write changed are locked until its commit (PostgreSQL's
  ``CREATE TRIGGER`` waits for the write's lock; SQLite's write transaction holds the file),
  so none can be added to them in between. An erasure is then left unfinished, its subject
  unsearchable, and the next sweep tries again; any other write is refused and rolled back
  (its journal line, written before, makes the next start, once allowed, make it again);
- at every sweep (:func:`flag`): an error line each time, and a ``ledger_altered`` event when
  what is found changes (its going included), naming each by its kind and table only: their
  names and bodies are whatever their writer typed, so only the log line quotes a name.

On SQLite every trigger in the file counts (the file is the ledger's alone); on PostgreSQL the
triggers, rules and row security of the ledger's tables as its connection finds them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, select, text
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import ConsentError, LedgerAltered, WriteUnfinished
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import AuditEvent, Base

logger = logging.getLogger(__name__)

LEDGER_TABLES = sorted(Base.metadata.tables)
"""The tables the migrations make: those whose triggers, rules and row security count."""

_SQLITE = text("SELECT 'trigger', tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
_POSTGRESQL = text("""
    SELECT 'trigger', c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND c.relname = ANY(:tables) AND pg_table_is_visible(c.oid)
    UNION ALL
    SELECT 'rule', c.relname, r.rulename FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
     WHERE r.rulename <> '_RETURN' AND c.relname = ANY(:tables) AND pg_table_is_visible(c.oid)
    UNION ALL
    SELECT 'row security', c.relname, c.relname FROM pg_class c
     WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND c.relname = ANY(:tables)
       AND pg_table_is_visible(c.oid)""")

_NAME_SHOWN = 64
"""How much of a name the log line quotes: the writer chose it, its length included."""


@dataclass(frozen=True, slots=True, order=True)
class Alteration:
    """One trigger, rule or table under row security: ``kind`` and ``table`` are the ledger's
    words, ``name`` the writer's."""

    kind: str
    table: str
    name: str

    @property
    def said(self) -> str:
        """How the log and a refusal name it: kind and table, never the writer's name."""
        return f"{self.kind} on {self.table}"


def found(session: Session) -> list[Alteration]:
    """Every trigger, rule and row security on the ledger's tables, in order (none: as the
    migrations left it). One catalog query, in ``session``'s transaction."""
    if session.get_bind().dialect.name == "sqlite":
        rows = session.execute(_SQLITE).all()
    else:
        rows = session.execute(_POSTGRESQL, {"tables": LEDGER_TABLES}).all()
    return sorted(Alteration(kind=kind, table=str(table), name=str(name))
                  for kind, table, name in rows)


def refuse(session: Session) -> None:
    """Raise :class:`LedgerAltered` where :func:`found` finds anything, each logged as an error
    with its name.

    Raises:
        LedgerAltered: naming each found by its kind and table (``details.found``).
    """
    alterations = found(session)
    if not alterations:
        return
    _log(alterations)
    said = _said(alterations)
    raise LedgerAltered(
        "the ledger's tables carry triggers, rules or row security that the service did not"
        f" make ({', '.join(said)}): they can undo its writes in silence, an erasure's among"
        " them; drop them (the log names each), then start again", details={"found": said})


Left = Sequence[tuple[str, ColumnElement[bool]]]
"""What a write must have left none of: (the table, the condition that finds such a row): the
rows it deleted, or those it changed as they were before it (a consent still in force)."""


def kept(session: Session, left: Left) -> list[str]:
    """The tables of ``left`` where the ledger still holds a row its condition finds, sorted:
    one query, in ``session``'s transaction (after its writes, which the session flushes)."""
    if not left:
        return []
    held = session.execute(select(*(exists().where(condition) for _, condition in left))).one()
    return sorted({table for (table, _), found in zip(left, held, strict=True) if found})


def require_held(session: Session, left: Left, *,
                 refusal: Callable[[list[str]], ConsentError] | None = None) -> None:
    """Read back, in the write's own transaction and before anything is signed or answered,
    that what it changed holds: none of ``left`` is found (:func:`kept`), and nothing on the
    ledger's tables can undo it at the commit or copy what it deleted (:func:`refuse`). A
    trigger, a rule or a row-security policy can make a ``DELETE`` or an ``UPDATE`` succeed
    having done nothing; the transaction is then rolled back by the caller's raise.

    Args:
        left: What the write must have left none of.
        refusal: Builds the refusal from the tables that kept rows: an erasure's own
            (``erasure_unfinished``); :class:`WriteUnfinished` by default.

    Raises:
        ConsentError: ``refusal``'s, naming the tables (``details.kept``); else
            :class:`LedgerAltered` where :func:`found` finds anything.
    """
    tables = kept(session, left)
    if tables:
        error = (refusal or WriteUnfinished.kept)(tables)
        logger.error("%s: the ledger kept rows a write changed or deleted (%s): rolled back,"
                     " nothing signed", error.code, ", ".join(tables))
        raise error
    refuse(session)


UNDONE: tuple[type[ConsentError], ...] = (WriteUnfinished, LedgerAltered)
"""What :func:`require_held` raises for a write other than an erasure: the service chains it
(:func:`consent.refusals.chained`) where the write chains no other refusal."""


def flag(runtime: Runtime, session: Session, *, actor: Actor | None) -> int:
    """The sweep's alarm: how many :func:`found` finds, each logged as an error at every sweep;
    a ``ledger_altered`` event is chained when what is found is not what the latest such event
    says (the first found, another, or none any more), read by the action's index in the
    sweep's transaction."""
    alterations = found(session)
    if alterations:
        _log(alterations)
    said = _said(alterations)
    latest = session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == str(AuditAction.LEDGER_ALTERED))
        .order_by(AuditEvent.seq.desc()).limit(1)).first()
    if said != (latest or {}).get("found", []):
        runtime.audit(session, Entry(action=AuditAction.LEDGER_ALTERED, actor=actor,
                                     outcome=LedgerAltered.code if said else "ok",
                                     details={"found": said}))
    return len(alterations)


def _said(alterations: list[Alteration]) -> list[str]:
    return [alteration.said for alteration in alterations]


def _log(alterations: list[Alteration]) -> None:
    for alteration in alterations:
        logger.error("%s: %s %r on the ledger's table %s, which the service did not make: it"
                     " can undo the service's writes in silence (no erasure receipt is signed"
                     " while it is there); drop it", LedgerAltered.code, alteration.kind,
                     alteration.name[:_NAME_SHOWN], alteration.table[:_NAME_SHOWN])
