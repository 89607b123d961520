"""Operator reads of personal data, chained into the audit log as ``audit_read`` events.

Reading who was searched, who consented to what, who asked for what, whose erasure is proved or
who a search proposed is access to personal data, which the log must show (compliance matrix
X-LOG: "any human/admin read of gallery data", and reads of the log itself). Each read by an
operator's key (admin, reviewer, verifier, the portal desk) is chained as one ``audit_read``
event: the reader's key and role, the view read (a list, or a page's or file's path), its
filters, and how many rows each list returned. Never the rows: a person the reader named (a
filter on a subject, one subject's record) is in the event's ``subjects``, beside its seal, where
an erasure can remove it (:mod:`consent.audit_seals`), never in ``details``. A page that shows
several lists chains one event naming them all, so loading the dashboard adds one event, not one
per table.

A subject's own token reading its own record is not chained: that is the person exercising
their right of access (X-ACC), not access by someone else; their export is chained as
``export`` like anyone's. A read that fails (refused, not found) chains nothing: nothing was
returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from optinface.consent.after_erasure import log_names
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.roles import Actor, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AuditFilter

ReadFilters = AuditFilter | dict[str, str] | None
"""A view's filters: the log's (whose subject is named among the event's subjects), or named
values that are never a pseudonym (an incident's id)."""


@dataclass(slots=True)
class Reads:
    """What one operator's request read, for :func:`chain` to record as one event.

    Attributes:
        actor: Who read: an operator's key, or None for the operator's own read where the
            data directory and the key store are (``optinface audit export``), as the
            reseals and break-glass are their own acts.
        view: The list read (``consent_ledger``, ``audit_events``...) or, for a page or file
            built from several, its path (``/review``, ``/v1/audit/export``).
        filters: The view's filters as JSON, without the subject (named in ``subjects``).
        offset: For a page of the log, where the page starts.
        lists: Rows returned per list, in the order read.
        subjects: The people the reader named, in the order named.
    """

    actor: Actor | None
    view: str
    filters: dict[str, Any] = field(default_factory=dict)
    offset: int | None = None
    lists: dict[str, int] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, actor: Actor | None, view: str, filters: ReadFilters = None,
           offset: int | None = None) -> Reads:
        """A view's reads; a log filter's subject is named among ``subjects``, not in them."""
        if not isinstance(filters, AuditFilter):
            return cls(actor=actor, view=view, offset=offset, filters=dict(filters or {}))
        return cls(actor=actor, view=view, offset=offset,
                   filters=filters.model_dump(mode="json", exclude_none=True,
                                              exclude={"subject"}),
                   subjects=[filters.subject] if filters.subject else [])

    def note(self, name: str, returned: int, *, subjects: Iterable[str] = ()) -> None:
        """``returned`` rows of list ``name`` were read (added up when a list is paged)."""
        self.lists[name] = self.lists.get(name, 0) + returned
        self.subjects.extend(s for s in subjects if s not in self.subjects)

    def details(self) -> dict[str, Any]:
        """The event's details: the view, its filters, rows per list and in all."""
        found: dict[str, Any] = {"view": self.view, "filters": self.filters,
                                 "lists": dict(self.lists), "returned": sum(self.lists.values())}
        if self.offset is not None:
            found["offset"] = self.offset
        return found


def chain_reads(runtime: Runtime, reads: Reads) -> None:
    """Chain ``reads`` as one ``audit_read`` event, in its own transaction; nothing when no
    personal data was read (a download of the register) or when the reader is the subject."""
    if not reads.lists or (reads.actor is not None and reads.actor.role is Role.SUBJECT):
        return
    with runtime.db.transaction() as session:
        runtime.audit(session, Entry(
            action=AuditAction.AUDIT_READ, actor=reads.actor,
            subjects=log_names(runtime, session, reads.subjects), details=reads.details()))
