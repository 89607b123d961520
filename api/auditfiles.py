"""The audit log as files: every matching event fetched a page at a time, and its CSV form.

Shared by the JSON API's export, the reviewer dashboard's downloads and ``optinface audit
export``, so all give out the same columns, written safe to open in a spreadsheet
(:mod:`.csvfiles`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from optinface.api.csvfiles import csv_text
from optinface.consent import witness
from optinface.consent.reads import Reads
from optinface.consent.roles import Actor
from optinface.consent.schemas import AuditEventPublic, AuditFilter
from optinface.consent.service import OptinFace

MAX_PAGE = 1000
AUDIT_CSV_COLUMNS = tuple(AuditEventPublic.model_fields)  # for reading: no checkpoint note


class Export(NamedTuple):
    """Every event of an export, and the checkpoint note it carries (None unless asked for)."""

    events: list[AuditEventPublic]
    note: witness.Signed | None


def all_events(service: OptinFace, actor: Actor | None, filters: AuditFilter, *,
               reads: Reads, signed: bool = False) -> Export:
    """Every event matching ``filters``, fetched a page at a time; the pages are noted in
    ``reads``, so a whole file is one ``audit_read`` event however many pages it took. With
    ``signed`` (the JSON export), the newest signed checkpoint whose tree ends at or before
    the last event, read with the last page (:meth:`OptinFace.audit_export_page`); for the
    whole log, the head is signed first (:meth:`OptinFace.sign_audit_head`) and the export
    ends there, so that checkpoint ends at its last event: no event of it rests on its chain
    alone (red team 7, #1). A filtered export signs nothing: no root is checked over part of
    the log."""
    through = service.sign_audit_head(actor=actor) if signed and filters.whole else None
    events: list[AuditEventPublic] = []
    while True:
        page, note = service.audit_export_page(actor=actor, filters=filters,
                                               offset=len(events), limit=MAX_PAGE,
                                               reads=reads, signed=signed, through=through)
        events.extend(page.events)
        if not page.events or len(events) >= page.total:
            return Export(events, note)


def exported(service: OptinFace, actor: Actor | None, filters: AuditFilter, *,
             view: str, signed: bool = False) -> Export:
    """Every event matching ``filters`` for an export (with its note where ``signed``: the
    JSON's), chained once the whole list is read as one ``audit_read`` naming ``view``:
    ``GET /v1/audit/export`` (``actor`` its key) and ``optinface audit export`` (None: the
    operator's own read) take this one path."""
    with service.reading(actor=actor, view=view, filters=filters) as reads:
        return all_events(service, actor, filters, reads=reads, signed=signed)


def audit_csv(events: Sequence[AuditEventPublic]) -> str:
    """One row per event; list and dict fields as JSON so the file round-trips, but for the
    apostrophe before a text cell that begins like a formula (:func:`.csvfiles.inert`): the
    JSON export is the exact copy."""
    rows: list[list[Any]] = [list(AUDIT_CSV_COLUMNS)]
    for event in events:
        row = event.model_dump(mode="json")
        rows.append([json.dumps(row[c]) if isinstance(row[c], list | dict) else row[c]
                     for c in AUDIT_CSV_COLUMNS])
    return csv_text(rows)


def audit_json(events: Sequence[AuditEventPublic], note: witness.Signed | None) -> str:
    """The export verify-export checks (:class:`ExportedEvent`): every event's fields, and the
    event ``note``'s checkpoint ends at carrying that note (``checkpoint``; for the whole log,
    its last event: :func:`all_events`), an export and the published key then holding the log
    to what the deployment signed, with no checkpoint kept apart. A filtered export that
    leaves that event out carries none (no root is recomputed over part of the log)."""
    rows = []
    for event in events:
        row = event.model_dump(mode="json")
        if note is not None and event.seq == note.size:
            row["checkpoint"] = note.note
        rows.append(row)
    return json.dumps(rows)
