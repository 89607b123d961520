"""The public retention policy: one text, versioned by its SHA-256, signed into every consent.

BIPA s. 15(a) asks for a written, public retention schedule that exists before anything is
collected; P-39.1 s. 3.2 a published governance policy; and each consent must show which version
the person agreed to (compliance rows B-01, Q-02, X-CON). The policy here is generated from the
live settings, so what is published is what the sweep enforces: ``/privacy`` shows it, the
register declares it, and :func:`versioned` gives it its version, the SHA-256 of its canonical
JSON.

The consent statement carries the whole versioned text (:mod:`consent.subject_acts`), so the
person's passkey signs the policy itself, and the receipt repeats it: anyone holding a receipt
can recompute the hash offline (:func:`version_problem`). Each version in force is also kept in
``retention_policies`` from the day the service first applied it, so ``/privacy/policy/{sha256}``
still answers for a receipt years later, after the settings changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.clock import years
from optinface.consent.crypto import sha256_problem, with_sha256
from optinface.consent.errors import NotFound
from optinface.consent.policies import OWN_CONSENT_GRACE_DAYS
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import RetentionPolicyPublic
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import RetentionPolicy
from optinface.consent.wording import Say, english

# Consent, withdrawal and erasure receipts are proof: kept the processing plus five years
# (X-RET; GDPR art. 5(2), the BIPA limitation period), then deleted
# (:mod:`consent.proof_retention`).
RECEIPT_YEARS = 5

# English source strings (the pages translate them). The biometric database's own schedule: the
# register declares it (its material hash covers the formatted text, which must not change by
# accident), and every policy version holds it.
DATABASE_RULES = (
    "until consent expires or is withdrawn (erased in the same call)",
    "at most each purpose's retention period after consent",
    "at most {years} years after the last interaction",
    "consents last at most {days} days",
    "a minor's consent (by the declared age, never the face) lasts at most {minor_days} days",
    "a consent given by the holder of parental authority ends {grace_days} days after the"
    " person reaches the age of consent; a consent in their own name to all its uses, given"
    " before, takes over its templates",
    "Illinois (BIPA s. 15(a)): destroyed when the purpose is met or 3 years after the last"
    " interaction, whichever comes first",
    "biometric data are never sold, leased, traded or otherwise used for profit",
)
# What is kept beside the database: in every policy version, not in the declared material, so
# that choosing how long the access log keeps its content needs no new declaration.
RECORD_RULES = (
    "a probe (the photo searched with), its template and its scores are never stored: they"
    " live for the request only",
    "proof of consents, withdrawals and erasures is kept {receipt_years} years after the consent"
    " ends or the erasure, then deleted; an erasure deletes at once the receipts that name the"
    " person, keeping the signed erasure receipt and the consent records without their name",
    "requests and complaints, with their answers, are kept {receipt_years} years after they"
    " were answered, then deleted",
)
LOG_KEPT_WHOLE = "the access log is kept whole, without biometric data"
LOG_PRUNED = ("the access log's entries lose their content {log_days} days after they are"
              " written (their chained hashes stay, so the log can still be verified)")
HELD = ", under an investigation hold: {log_hold}"
LOG_KEPT_WHOLE_HELD = LOG_KEPT_WHOLE + HELD
LOG_PRUNED_HELD = LOG_PRUNED + HELD


def receipts_expired(now: datetime) -> datetime:
    """Proof of a processing that ended before this instant is no longer kept."""
    return now - years(RECEIPT_YEARS)


def _formatted(rules: tuple[str, ...], settings: ConsentSettings, say: Say = english,
               log_hold: str | None = None) -> list[str]:
    return [say(rule, years=settings.retention_years_after_last_interaction,
                days=settings.max_consent_days,
                minor_days=settings.minor_consent_max_days,
                grace_days=OWN_CONSENT_GRACE_DAYS, receipt_years=RECEIPT_YEARS,
                log_days=settings.access_log_retention_days,
                log_hold=log_hold or settings.access_log_hold) for rule in rules]


def database_rules(settings: ConsentSettings) -> list[str]:
    """The biometric database's schedule as these settings enforce it (declared material)."""
    return _formatted(DATABASE_RULES, settings)


def retention_rules(settings: ConsentSettings, say: Say = english, *,
                    log_hold: str | None = None) -> list[str]:
    """The whole public schedule as these settings enforce it, one rule a line; with ``say``,
    in its reader's language (the hold's reason as ``log_hold`` gives it, translated by the
    operator: :mod:`consent.operator_texts`), as a consent form shows it and its person signs."""
    held = settings.access_log_hold is not None
    if settings.access_log_retention_days is None:
        log = LOG_KEPT_WHOLE_HELD if held else LOG_KEPT_WHOLE
    else:
        log = LOG_PRUNED_HELD if held else LOG_PRUNED
    return _formatted((*DATABASE_RULES, *RECORD_RULES, log), settings, say, log_hold)


def versioned(settings: ConsentSettings) -> dict[str, Any]:
    """The policy in force: the governance policy's address, the rules, and their SHA-256."""
    return with_sha256({"policyUrl": settings.policy_url, "rules": retention_rules(settings)})


def version_problem(policy: object) -> str | None:
    """Why a stated policy (a receipt's copy, so anything) is not the text its SHA-256 names,
    or None."""
    return sha256_problem(policy, not_one="the retention policy is not a policy",
                          mismatch="the retention policy's text does not match its SHA-256")


def publish(runtime: Runtime) -> RetentionPolicyPublic:
    """Keep the policy in force as a version from the first time the service applies it, and
    chain an event each time the policy in force changes, a return to an older version
    included: the log dates every period of every version (every ledger transaction is
    serialised, so two workers never both insert it)."""
    policy = versioned(runtime.settings)
    with runtime.db.transaction() as session:
        row = session.get(RetentionPolicy, policy["sha256"])
        if row is None:
            row = RetentionPolicy(sha256=policy["sha256"], policy_url=policy["policyUrl"],
                                  rules=policy["rules"], published_at=runtime.clock.now())
            session.add(row)
        runtime.audit_if_changed(session, Entry(action=AuditAction.RETENTION_POLICY_PUBLISHED,
                                                actor=None, details={"sha256": row.sha256}))
        return RetentionPolicyPublic.model_validate(row)


def version(session: Session, sha256: str) -> RetentionPolicyPublic:
    """A version ever in force, by its SHA-256."""
    row = session.get(RetentionPolicy, sha256)
    if row is None:
        raise NotFound(f"no retention policy has SHA-256 {sha256}",
                       details={"sha256": sha256})
    return RetentionPolicyPublic.model_validate(row)


def versions(session: Session) -> list[RetentionPolicyPublic]:
    """Every version ever in force, oldest first."""
    rows = session.scalars(select(RetentionPolicy).order_by(RetentionPolicy.published_at))
    return [RetentionPolicyPublic.model_validate(row) for row in rows]
