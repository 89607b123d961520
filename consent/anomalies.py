"""Alerts on enumeration patterns in the access log, per researcher key (X-LOG).

Each search keeps the rules: a probe consent, the gates, the daily quota. A pattern of searches
can still be what the rules exist to stop. A researcher who holds probe links could sign them
and search with faces that are not in the gallery, or walk the pseudonyms with verifies, or
keep trying what the gates refuse, or keep asking for verify links naming pseudonyms to open
them and see who can still sign (:mod:`consent.probe_consent`: only the subject can sign one,
so such links stay unsigned). A verify link counts as unsigned only once its lifetime has
passed (the request's event says when, ``expires_at``): until then its subject may yet sign,
as when a researcher books ten appointments at once; a request logged before its event carried
the expiry is never counted. The compliance matrix asks for alerts on such patterns (CNIL
delib. 2021-122 on logging; AI Act art. 26(5), monitoring by the deployer).

The alerts are read from the last :data:`WINDOW` of the chained log when asked for. Nothing new
is stored, so no one can silence an alert but by editing the log, which its verification would
show. Each alert names a key and counts; never a face, and never a subject. One edit is lawful:
an erasure removes the subject's pseudonym from the log (:mod:`consent.audit_seals`), so verifies
against subjects erased since no longer count towards the "many subjects" alert.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from optinface.consent.activity import SEARCH_ACTIONS
from optinface.consent.audit import AuditAction, log_time, parse_log_time
from optinface.consent.errors import UNEXPECTED_FAILURE
from optinface.consent.schemas import AnomalyAlert, Operation, SearchOutcome
from optinface.consent.tables import AuditEvent

WINDOW = timedelta(hours=24)
MIN_SEARCHES = 20  # fewer searches than this say too little about a key's pattern
NO_CANDIDATE_SHARE = 0.8  # of a key's searches finding no one: fishing with absent faces
REFUSALS = 10  # refused searches or probe consent requests by one key: probing the gates
VERIFIED_SUBJECTS = 10  # distinct subjects one key verified against: walking the pseudonyms
UNSIGNED_VERIFY_LINKS = 10  # verify links one key asked for that expired unsigned: probing

# Refused attempts that count: searches, and asks for a probe consent.
_PROBING = (*SEARCH_ACTIONS, str(AuditAction.PROBE_CONSENT_REQUESTED))
_READ = (*SEARCH_ACTIONS, AuditAction.REFUSED, AuditAction.PROBE_CONSENT_REQUESTED,
         AuditAction.PROBE_CONSENT_CREATED)


class AlertKind(StrEnum):
    NO_CANDIDATE_SWEEP = "no_candidate_sweep"
    REPEATED_REFUSALS = "repeated_refusals"
    MANY_SUBJECTS_VERIFIED = "many_subjects_verified"
    UNSIGNED_VERIFY_LINKS = "unsigned_verify_links"


@dataclass
class _KeyActivity:
    """One key's searches in the window."""

    searches: int = 0
    no_candidate: int = 0
    refused: int = 0
    verified: set[str] = field(default_factory=set)
    # Each verify link's request id, with when the link expires (None: logged without it).
    verify_links: dict[str, datetime | None] = field(default_factory=dict)

    def alerts(self, key_id: str, since: datetime, *, signed: set[str],
               now: datetime) -> list[AnomalyAlert]:
        """``signed``: the requests whose link someone signed, any key's."""
        found = []
        sweeping = self.no_candidate >= NO_CANDIDATE_SHARE * self.searches
        if self.searches >= MIN_SEARCHES and sweeping:
            found.append(AnomalyAlert(key_id=key_id, kind=AlertKind.NO_CANDIDATE_SWEEP,
                                      count=self.no_candidate, of=self.searches, since=since))
        if self.refused >= REFUSALS:
            found.append(AnomalyAlert(key_id=key_id, kind=AlertKind.REPEATED_REFUSALS,
                                      count=self.refused, of=self.searches + self.refused,
                                      since=since))
        if len(self.verified) >= VERIFIED_SUBJECTS:
            found.append(AnomalyAlert(key_id=key_id, kind=AlertKind.MANY_SUBJECTS_VERIFIED,
                                      count=len(self.verified), of=self.searches, since=since))
        expired = {request for request, ends in self.verify_links.items()
                   if ends is not None and ends <= now}
        unsigned = len(expired - signed)
        if unsigned >= UNSIGNED_VERIFY_LINKS:
            found.append(AnomalyAlert(key_id=key_id, kind=AlertKind.UNSIGNED_VERIFY_LINKS,
                                      count=unsigned, of=len(self.verify_links), since=since))
        return found


def alerts(session: Session, *, now: datetime) -> list[AnomalyAlert]:
    """The keys whose searches in the last :data:`WINDOW` form a pattern above, by key."""
    since = (now - WINDOW).astimezone(UTC)
    rows = session.execute(
        select(AuditEvent.actor_key_id, AuditEvent.action, AuditEvent.outcome,
               AuditEvent.subjects, AuditEvent.details)
        .where(AuditEvent.at >= log_time(since), AuditEvent.action.in_(_READ),
               or_(AuditEvent.actor_key_id.is_not(None),
                   AuditEvent.action == AuditAction.PROBE_CONSENT_CREATED)))
    activity: dict[str, _KeyActivity] = defaultdict(_KeyActivity)
    signed: set[str] = set()  # signed by the person, who holds no key: matched by request
    for key_id, action, outcome, subjects, details in rows:
        details = details or {}
        if action == AuditAction.PROBE_CONSENT_CREATED:
            signed.add(str(details.get("request_id")))
            continue
        if key_id is None:
            continue
        if action == AuditAction.PROBE_CONSENT_REQUESTED:
            if details.get("for_a_verify"):
                activity[key_id].verify_links[str(details.get("request_id"))] = \
                    parse_log_time(details.get("expires_at"))
            continue
        if action == AuditAction.REFUSED:
            if details.get("attempted") in _PROBING and outcome != UNEXPECTED_FAILURE:
                activity[key_id].refused += 1
            continue
        key = activity[key_id]
        key.searches += 1
        key.no_candidate += outcome == SearchOutcome.NO_CANDIDATE
        if action == Operation.VERIFY:
            key.verified.update(subjects)  # the claimed subject, whatever the outcome
    return [alert for key_id in sorted(activity)
            for alert in activity[key_id].alerts(key_id, since, signed=signed, now=now)]
