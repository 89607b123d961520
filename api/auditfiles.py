"""The audit log as files: every matching event fetched a page at a time, and its CSV form.

Shared by the JSON API's export, the reviewer dashboard's downloads and ``optinface audit
export``, so all give out the same columns, written safe to open in a spreadsheet
(:mod:`.csvfiles`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from optinface.api.csvfiles import csv_text
from optinface.consent.reads import Reads
from optinface.consent.roles import Actor
from optinface.consent.schemas import AuditEventPublic, AuditFilter
from optinface.consent.service import OptinFace

MAX_PAGE = 1000
AUDIT_CSV_COLUMNS = tuple(AuditEventPublic.model_fields)


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
             view: str) -> list[AuditEventPublic]:
    """Every event matching ``filters`` for an export, chained once the whole list is read as
    one ``audit_read`` naming ``view``: ``GET /v1/audit/export`` (``actor`` its key) and
    ``optinface audit export`` (None: the operator's own read) take this one path."""
    with service.reading(actor=actor, view=view, filters=filters) as reads:
        return list(all_events(service, actor, filters, reads=reads))


def audit_csv(events: list[AuditEventPublic]) -> str:
    """One row per event; list and dict fields as JSON so the file round-trips, but for the
    apostrophe before a text cell that begins like a formula (:func:`.csvfiles.inert`): the
    JSON export is the exact copy."""
    rows: list[list[Any]] = [list(AUDIT_CSV_COLUMNS)]
    for event in events:
        row = event.model_dump(mode="json")
        rows.append([json.dumps(row[c]) if isinstance(row[c], list | dict) else row[c]
                     for c in AUDIT_CSV_COLUMNS])
    return csv_text(rows)


def audit_json(events: list[AuditEventPublic]) -> str:
    return json.dumps([event.model_dump(mode="json") for event in events])
