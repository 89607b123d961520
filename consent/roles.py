"""Who may do what: roles, the permission table, and the one check the API calls too."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from optinface.consent.errors import EndsProcessingOnly, Forbidden, SubjectCredentialRequired


class Role(StrEnum):
    ADMIN = "admin"
    RESEARCHER = "researcher"
    REVIEWER = "reviewer"
    VERIFIER = "verifier"  # confirms or rejects candidates (consent.review)
    PORTAL = "portal"
    SUBJECT = "subject"


class Permission(StrEnum):
    MANAGE_KEYS = "manage_keys"
    MANAGE_PURPOSES = "manage_purposes"
    READ_PURPOSES = "read_purposes"
    CREATE_SUBJECT = "create_subject"
    READ_SUBJECT = "read_subject"
    UPDATE_SUBJECT = "update_subject"
    GIVE_CONSENT = "give_consent"
    WITHDRAW_CONSENT = "withdraw_consent"
    CREATE_PROBE_CONSENT = "create_probe_consent"
    ENROL = "enrol"
    OPEN_CAPTURE = "open_capture"
    VERIFY = "verify"
    IDENTIFY = "identify"
    ERASE = "erase"
    EXPORT = "export"
    SWEEP = "sweep"
    READ_AUDIT = "read_audit"
    CHECKPOINT_AUDIT = "checkpoint_audit"
    READ_REGISTER = "read_register"
    DECLARE = "declare"
    READ_LEDGER = "read_ledger"
    REQUEST_RIGHTS = "request_rights"  # record a rights request (the subject's side)
    ANSWER_REQUESTS = "answer_requests"  # see and answer rights requests (reviewer, admin)
    MANAGE_INCIDENTS = "manage_incidents"  # record incidents and their notifications (admin)
    READ_INCIDENTS = "read_incidents"  # the incident register and its notices
    REVIEW_CANDIDATES = "review_candidates"  # confirm or reject a search's candidates
    DISCLOSE = "disclose"  # disclose a record under law or a warrant (admin; consent.disclosures)
    AUTHORISE_DISCLOSURE = "authorise_disclosure"  # the person's own: on consent, a transaction
    # An admin key's own passkey: register it, step up with it (consent.admin_mfa).
    SECOND_FACTOR = "second_factor"
    # A copy of the person's own templates as vectors, in their access export (consent.access).
    EXPORT_VECTORS = "export_vectors"
    # The person's own sign-ins: the live tokens their passkey issued (consent.subject_tokens).
    READ_TOKENS = "read_tokens"


# Acts that create or end a legal basis: the person's own, signed with their passkey. No
# operator key holds them; asking gets subject_credential_required, not a plain forbidden.
PERSONAL_ACTS = frozenset({
    Permission.GIVE_CONSENT,
    Permission.WITHDRAW_CONSENT,
    Permission.UPDATE_SUBJECT,
    Permission.AUTHORISE_DISCLOSURE,
})

# The person's own copy of their face templates as vectors (GDPR art. 15(3), 20): whoever holds
# it can recognise them with the same public model anywhere, so no operator key (not the desk's,
# not a reviewer's answering an access request) ever obtains it; only the person's own sign-in,
# or their guardian's.
OWN_COPIES = frozenset({Permission.EXPORT_VECTORS})
# The person's own sign-ins (their live tokens, the passkey that issued each): which devices and
# when a person signed in is theirs to read, a read, so not update_subject (black box 21, #4),
# and no operator key's: asking gets subject_credential_required.
OWN_SIGN_INS = frozenset({Permission.READ_TOKENS})
# About no one in particular: the purposes and notices a person is asked to consent to. A subject
# token reads them without naming a subject; everything else it holds is about its own subject.
ABOUT_NO_SUBJECT = frozenset({Permission.READ_PURPOSES})

_SUBJECT_SIDE = {
    Permission.READ_PURPOSES,
    Permission.READ_SUBJECT,
    Permission.ENROL,
    Permission.OPEN_CAPTURE,
    Permission.ERASE,
    Permission.EXPORT,
    Permission.REQUEST_RIGHTS,
}

# Searching is the researcher's alone: an administrator runs the system but never looks people up.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        set(Permission)
        - PERSONAL_ACTS
        - OWN_COPIES
        - OWN_SIGN_INS
        - {Permission.VERIFY, Permission.IDENTIFY, Permission.CREATE_PROBE_CONSENT,
           Permission.ENROL, Permission.OPEN_CAPTURE, Permission.REVIEW_CANDIDATES}
    ),
    # A person who checks candidates: sees them, decides, nothing else (never searches).
    Role.VERIFIER: frozenset({Permission.REVIEW_CANDIDATES}),
    Role.RESEARCHER: frozenset(
        {
            Permission.READ_PURPOSES,
            Permission.CREATE_PROBE_CONSENT,
            Permission.VERIFY,
            Permission.IDENTIFY,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Permission.READ_PURPOSES,
            Permission.READ_AUDIT,
            Permission.CHECKPOINT_AUDIT,
            Permission.READ_REGISTER,
            Permission.READ_LEDGER,
            # A compliance reviewer answers access requests and checks what is held (issue 4).
            Permission.EXPORT,
            Permission.ANSWER_REQUESTS,
            Permission.READ_INCIDENTS,
        }
    ),
    # The desk opens capture sessions and uploads the approved photo; the subject approves.
    Role.PORTAL: frozenset(_SUBJECT_SIDE | {Permission.CREATE_SUBJECT}),
    Role.SUBJECT: frozenset(_SUBJECT_SIDE | PERSONAL_ACTS | OWN_COPIES | OWN_SIGN_INS),
}


# What a person's token limited to ending processing holds (consent.ending_acts: issued by a
# sign-in while the witness folder refused checkpoints): what the portal's page reads, and the
# acts that end processing or take power away (a withdrawal, an erasure, an opt-out, the
# non-biometric alternative, a revocation); never a consent, an enrolment, a copy of the
# templates, an export, a disclosure or a rights request. Of update_subject it signs only the
# acts that end processing (consent.ending_acts.require_ending_if_limited).
ENDING_ONLY = frozenset({
    Permission.READ_PURPOSES,
    Permission.READ_SUBJECT,
    Permission.READ_TOKENS,
    Permission.UPDATE_SUBJECT,
    Permission.WITHDRAW_CONSENT,
    Permission.ERASE,
})


# The roles that search and act on what a search found: where the API checks client certificates
# (api.deps), their keys are bound to one (consent.client_certificates).
RELYING_PARTIES = frozenset({Role.RESEARCHER, Role.VERIFIER})


# Asked by a key that does not hold them, these are refused as the person's own (not as a mere
# role mismatch): enrolling a face too, which the desk may only do for a photo the person approved,
# a copy of their templates, and the list of their sign-ins.
FOR_THE_PERSON = (PERSONAL_ACTS | OWN_COPIES | OWN_SIGN_INS
                  | {Permission.ENROL, Permission.OPEN_CAPTURE})


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated caller: the key it used, its role, and for a subject token, whose."""

    key_id: str
    role: Role
    subject: str | None = None
    # For a subject token: whose passkey sign-in issued it ("self" or "parental_authority").
    capacity: str = "self"
    # For a relying party's key: the SHA-256 of the client certificate it is bound to, if any.
    client_cert_sha256: str | None = None
    # For a subject token: issued by a sign-in while the witness was stalled, it holds
    # ENDING_ONLY alone, for its whole life (consent.ending_acts).
    ends_processing_only: bool = False


def permissions_of(actor: Actor) -> frozenset[Permission]:
    """What ``actor`` may do: its role's permissions, limited to :data:`ENDING_ONLY` for a
    token that may only end processing."""
    held = PERMISSIONS[actor.role]
    return held & ENDING_ONLY if actor.ends_processing_only else held


def authorize(actor: Actor, permission: Permission, *, subject: str | None = None) -> None:
    """Raise :class:`Forbidden` unless ``actor`` may do ``permission`` (on ``subject``)."""
    if permission in FOR_THE_PERSON and permission not in PERMISSIONS[actor.role]:
        raise SubjectCredentialRequired(
            f"role {actor.role} may not {permission}: only the person, with their own passkey",
            details={"role": str(actor.role), "permission": str(permission)},
        )
    if permission not in permissions_of(actor):
        if actor.ends_processing_only:
            raise EndsProcessingOnly(EndsProcessingOnly.WHY,
                                     details={"permission": str(permission)})
        raise Forbidden(
            f"role {actor.role} may not {permission}",
            details={"role": str(actor.role), "permission": str(permission)},
        )
    if (actor.role is Role.SUBJECT and permission not in ABOUT_NO_SUBJECT
            and (subject is None or subject != actor.subject)):
        raise Forbidden(
            "a subject token acts on its own subject only", details={"permission": str(permission)}
        )
