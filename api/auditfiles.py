"""The audit log as files: every matching event fetched a page at a time, and its CSV form.

Shared by the JSON API's export, the reviewer dashboard's downloads and ``optinface audit
export``, so all give out the same columns, written safe to open in a spreadsheet
(:mod:`.csvfiles`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from optinface.api.csvfiles import csv_text
from optinface.consent.reads import Reads
from optinface.consent.roles import Actor
from optinface.consent.schemas import AuditEventPublic, AuditFilter, ExportedEvent
from optinface.consent.service import OptinFace

MAX_PAGE = 1000
AUDIT_CSV_COLUMNS = tuple(AuditEventPublic.model_fields)  # for reading: no checkpoint note


def all_events(
    service: OptinFace, actor: Actor | None, filters: AuditFilter, *, reads: Reads
) -> Iterator[AuditEventPublic]:
    """Every event matching ``filters``, fetched a page at a time; the pages are noted in
    ``reads``, so a whole file is one ``audit_read`` event however many pages it took."""
    offset = 0
    while True:
        page = service.audit_events(actor=actor, filters=filters, offset=offset, limit=MAX_PAGE,
                                    reads=reads)
        yield from page.events
        offset += len(page.events)
        if not page.events or offset >= page.total:
            return


def exported(service: OptinFace, actor: Actor | None, filters: AuditFilter, *,
             view: str) -> list[ExportedEvent]:
    """Every event matching ``filters`` for an export, chained once the whole list is read as
    one ``audit_read`` naming ``view``: ``GET /v1/audit/export`` (``actor`` its key) and
    ``optinface audit export`` (None: the operator's own read) take this one path."""
    with service.reading(actor=actor, view=view, filters=filters) as reads:
        events = list(all_events(service, actor, filters, reads=reads))
    return anchored(service, actor, events)


def anchored(service: OptinFace, actor: Actor | None,
             events: list[AuditEventPublic]) -> list[ExportedEvent]:
    """The events of an export, the one the newest signed checkpoint covering them ends at
    carrying that checkpoint's note (:class:`ExportedEvent`): an export and the published key
    then hold the log to what the deployment signed, with no checkpoint kept apart. A filtered
    export that leaves that event out carries none (no root is recomputed over part of the
    log)."""
    found = (service.newest_checkpoint_through(actor=actor, seq=events[-1].seq)
             if events else None)
    return [_carrying(event, found[1] if found and event.seq == found[0] else None)
            for event in events]


def _carrying(event: AuditEventPublic, note: str | None) -> ExportedEvent:
    """``event`` as exported (its fields as read, not validated again), with ``note``."""
    values: dict[str, Any] = {name: getattr(event, name) for name in AuditEventPublic.model_fields}
    fields = set(event.model_fields_set)
    if note:
        values["checkpoint"] = note
        fields.add("checkpoint")
    return ExportedEvent.model_construct(fields, **values)


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


def audit_json(events: list[ExportedEvent]) -> str:
    """The export verify-export checks: every event's fields, and a checkpoint note only on
    the event that carries one."""
    return json.dumps([event.model_dump(mode="json", exclude=None if event.checkpoint else
                                        {"checkpoint"}) for event in events])
