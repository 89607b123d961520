"""The audit log as files: every matching event fetched a page at a time, and its CSV form.

Shared by the JSON API's export and the reviewer dashboard's downloads, so both give out the
same columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from optinface.consent.reads import Reads
from optinface.consent.roles import Actor
from optinface.consent.schemas import AuditEventPublic, AuditFilter
from optinface.consent.service import OptinFace

MAX_PAGE = 1000
AUDIT_CSV_COLUMNS = tuple(AuditEventPublic.model_fields)


def all_events(
    service: OptinFace, actor: Actor, filters: AuditFilter, *, reads: Reads
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


def audit_csv(events: list[AuditEventPublic]) -> str:
    """One row per event; list and dict fields as JSON so the file round-trips."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=AUDIT_CSV_COLUMNS)
    writer.writeheader()
    for event in events:
        row = event.model_dump(mode="json")
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        )
    return buffer.getvalue()


def audit_json(events: list[AuditEventPublic]) -> str:
    return json.dumps([event.model_dump(mode="json") for event in events])
