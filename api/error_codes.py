"""The stable codes of every refusal and the one table from code to HTTP status.

Every refusal of the engine (:class:`engine.errors.EngineError`) and of the consent core
(:class:`consent.errors.ConsentError`) keeps its stable ``code``; this table only chooses the
HTTP status the API answers it with (:mod:`api.errors`, the one error shape) and the prefix the
command line prints it with (:func:`api.cli.common.refused`). Apart from the web framework, so a
command starts without loading it.

===========================  ======  ===============================================================
code                         status  meaning
===========================  ======  ===============================================================
validation_error             422     the request does not match the OpenAPI schema
invalid_image                400     the upload is not a decodable JPEG (an MPO's first image), PNG
                                     or WebP image
payload_too_large            413     the body or the image exceeds the size limit
no_face                      422     no face the detector can find in the image (one too thin to
                                     hold any, e.g. 700x1, included)
multiple_faces               422     more than one face (a bystander is never enrolled/searched)
low_quality                  422     the face is too small or uncertain for a reliable template
invalid_request              422     well-formed but against a rule (e.g. consent too long)
unauthenticated              401     no, unknown, revoked or expired API key / subject token (one
                                     message for all: the caller never learns which)
second_factor_required       401     OPTINFACE_ADMIN_MFA is on and this admin-only act carries no
                                     valid step-up token of the same key in X-OptinFace-Step-Up
                                     (details.problem: no_passkey, no_step_up, step_up_wrong,
                                     step_up_expired), or a key's passkey would be replaced
                                     without its current passkey's approval (no_approval)
forbidden                    403     the role may not do this, or a subject token on another subject
                                     (with OPTINFACE_ADMIN_MFA on, an admin key is made on the
                                     command line only)
consent_required             403     no active consent covers this operation (a refusal of
                                     permission, not a state conflict: the caller cannot fix it;
                                     details.problem receipt_mismatch: the consent's row grants
                                     more than its signed receipt, chained as authority_mismatch)
consent_expired              403     the consent has expired
consent_withdrawn            403     the consent was withdrawn
guardian_consent_required    403     a minor needs the holder of parental authority
age_unsealed                 403     the subject's declared age or jurisdiction carries no valid
                                     seal (edited in the database): no one may consent for them
                                     (chained as a refusal, logged as an error)
purpose_not_consented        403     the subject did not consent to this purpose; also a verify's
                                     probe link opened or signed for a subject who may not sign
                                     it (never made, erased, no consent in force to its purpose:
                                     one answer for all, the link's holder learns no more)
probe_consent_required       403     the person in the probe did not agree to this search
                                     (details.problem: missing, used, expired, other_purpose,
                                     other_image, other_key, not_signed_by_the_person; a verify's:
                                     not_signed_by_the_subject, other_subject; an identify's:
                                     for_a_verify; receipt_mismatch: the row is not what its
                                     receipt, signed by the service's key, says was signed;
                                     witness_replaced: signed before the witness folder was
                                     taken up in place of a lost one, ask for a new one)
operation_not_allowed        403     the purpose does not include this operation
subject_credential_required  403     only the person (or their guardian), signing with their own
                                     passkey, may do this: an operator key never acts for them
revoke_other_in_portal       403     over the API a subject token revokes itself or all the
                                     person's tokens, never one other alone: the person picks
                                     which to keep in the portal (passkey sign-in)
ends_processing_only         403     the person's token (or portal session) comes from a
                                     sign-in made while the witness folder refused checkpoints:
                                     it may only end processing (withdraw, erase, opt out,
                                     revoke, log out), for its whole life; sign in again
passkey_invalid              403     the WebAuthn response does not verify (signature, challenge,
                                     origin, or a passkey not allowed to sign this act)
passkey_unsealed             403     the passkey's record carries no valid seal: written into the
                                     database without the key store, it signs nothing (chained as
                                     a refusal)
challenge_invalid            403     the challenge or capture session is unknown, used, expired, for
                                     another act, or the upload is not the approved photo
capacity_not_held            403     the signer's passkey does not hold the capacity claimed (a
                                     minor's own passkey is never parental authority)
face_mismatch                403     the face does not match the subject's templates (one person per
                                     subject)
reenrol_at_desk              403     the subject was enrolled before and holds no template this face
                                     can be compared with (all destroyed, or of another model):
                                     only a capture session the desk opened enrols them again
template_limit               409     the subject already has as many templates as allowed
subject_data_unreadable      409     the subject's stored data key or one of their templates does
                                     not open for them (changed in the database without the key
                                     store): nothing enrolled, compared or exported from it
template_not_replaceable     409     the template a capture replaces is not the subject's under the
                                     capture's consent (details.problem: unknown, other_consent)
already_registered           409     a passkey of that capacity exists; no new enrolment link, and
                                     no older link registers another
link_invalid                 410     the one-time link is unknown, used or expired
receipt_code_invalid         410     the erasure receipt's one-time code is unknown, expired or used
erasure_receipt_altered      409     the erasure receipt a tombstone keeps (fetched by its one-time
                                     code, or a DELETE's answer for a subject erased meanwhile) does
                                     not verify under this deployment's receipt key or names another
                                     tombstone: not served; chained as erasure_receipt_altered
alternative_chosen           409     the person chose the non-biometric alternative: no enrolment
not_found                    404     no such subject, consent, purpose, key or route
method_not_allowed           405     the route exists, the method does not
subject_erased               410     the pseudonym was erased and can never be used again
second_factor_off            409     OPTINFACE_ADMIN_MFA is off: the admin passkey routes are closed
not_declared                 409     matching refused until the register's declaration is recorded
declaration_period_running   409     declared, but the 60-day period before service has not run
redeclaration_required       409     the register changed since its declaration: declare again
declaration_unsealed         409     the latest declaration's record carries no valid seal (edited
                                     without the key store): it does not count; declare again
assessment_outdated          409     outside demo mode, the privacy impact assessment does not
                                     cover the register as it stands: assess it, then set
                                     OPTINFACE_PIA_MATERIAL_SHA256
suspended_by_regulator       409     a regulator's order suspends enrolment and matching
regulator_orders_altered     409     the regulator's orders in the database are not those the
                                     audit log chained or the witness journal recorded: apply
                                     each again under its reference
eu_representative_required   409     an EU data subject, while the controller has no EU
                                     establishment and names no EU representative (GDPR art. 27):
                                     set OPTINFACE_EU_REPRESENTATIVE (or OPTINFACE_EU_ESTABLISHMENT)
transfer_assessment_required 409     a disclosure to a recipient outside the area whose law protects
                                     the person (Québec, the EEA) names no transfer_assessment: the
                                     controller assesses it first (P-39.1 s. 17; GDPR chapter V)
wording_changed              409     the consent form's wording (purposes, recipients, safeguards,
                                     retention rules in the reader's language) changed since the
                                     page showed it (its wording_sha256): read it again, then sign
consent_narrowed             409     a purpose withdrawal on a consent whose row covers fewer
                                     purposes than its signed receipt less the person's signed
                                     withdrawals (edited without the key): nothing withdrawn
model_mismatch               409     templates from two models cannot be compared
rate_limited                 429     per-key rate, the daily matching quota (key or purpose), the
                                     client's failed authentications or its anonymous sign-in
                                     challenges spent; see Retry-After
not_calibrated               503     no calibrated threshold for the model at the stated FMR
model_integrity              503     a model file is missing or its SHA-256 differs, or
                                     OPTINFACE_MODEL_DIR is not a folder
index_corrupt                503     the saved index cannot be read
unreadable_file              400     (CLI only) a file named on the command line cannot be read,
                                     or holds nothing the command can use (receipt verify,
                                     audit verify --against)
unwritable_file              400     (CLI only) a file or folder named on the command line cannot
                                     be created or written (backup, embed --out, audit export
                                     --out), or the command's own output cannot be written
                                     whole (a full disk under the file it is redirected to)
invalid_settings             503     (CLI only) an OPTINFACE_* setting or an option of serve is not
                                     valid (each named with pydantic's reason, never its value)
address_unavailable          503     (CLI only) serve cannot listen on --host/--port (in use, not
                                     an address of this machine, or not allowed)
server_unreachable           503     (CLI only) no server answers at --url (bench, demo)
bench_failed                 503     (CLI only) the server under bench refused a setup step or a
                                     measured call, or its own server never came up
data_dir_in_use              409     (CLI only) a running server has the data directory open,
                                     or a process outside optinface held the SQLite ledger
                                     locked past the wait (a sqlite3 shell's exclusive
                                     transaction)
file_exists                  409     (CLI only) audit export --out names a file that exists: it
                                     is left as it is unless --force replaces it
log_not_as_witnessed         409     (CLI only) audit reseal: the log is not, or was at a start
                                     not, the one its witness signed (details.found: the action
                                     and event that say so): nothing is sealed
data_dir_unusable            503     the CLI: the data directory cannot be created or written, or
                                     its ledger cannot be read (a file that is not a database), or
                                     it does not exist (every command but serve and keys create);
                                     the server: a request met the ledger's storage damaged
                                     or failing (a full disk, an I/O error), a command too
placeholder_accountability   503     (CLI only) serve refuses placeholder accountability settings
                                     outside demo mode (OPTINFACE_DEMO_MODE=true)
manifest_unreadable          503     (CLI only) the model manifest or thresholds file is unreadable
                                     (thresholds: figures no calibration gives, too)
key_store_unusable           503     (CLI only) the key store is inside the data directory or
                                     the witness folder, or unusable; or, while the ledger holds
                                     data, it lacks one of the deployment's keys (none is made
                                     again: details.missing),
                                     holds a damaged one, or one that does not open the ledger's
                                     data (another deployment's)
key_file_exposed             503     (CLI only) a key file or the key folder is group/world-readable
key_unavailable              503     a subject key's epoch key is destroyed (a restored old copy)
ledger_altered               503     the ledger's tables carry triggers, rules or row security the
                                     service did not make (details.found: each by kind and
                                     table): the server does not start on them (a command says it
                                     in one line), and an erasure signs no receipt while they are
                                     there (its subject stays unsearchable; the sweep retries)
erasure_unfinished           503     the ledger kept rows of the subject that the erasure deleted
                                     (details.kept: their tables): nothing is signed, the subject
                                     stays unsearchable and the next sweep tries again
write_unfinished             503     a withdrawal (of a consent or a purpose), a template's
                                     destruction (a rectification, the non-biometric
                                     alternative), a key's revocation or a log-out found the
                                     ledger had not kept what it changed (details.kept: their
                                     tables): rolled back, nothing signed, not done; journaled,
                                     so the next start makes it again once the cause is gone
witness_unusable             503     the audit witness folder lies inside the data directory,
                                     holds it, or may be written by any user (at start), or
                                     cannot be written (at start, or its
                                     journal before an act that must be journaled, or the
                                     mark of a challenge answered or a probe consent used:
                                     nothing is changed; or the checkpoint of an act that spent a
                                     single-use right: that act is committed, not answered,
                                     details.committed), its pinned key cannot be read, it pins
                                     another checkpoint key, or (at start) it is not the witness
                                     the key store recorded: no or another witness.id, a shorter
                                     or edited erasure journal (details.adopt names the recovery);
                                     or, while the running server's folder refuses checkpoints,
                                     any request but the probes and the person's acts that end
                                     processing: nothing done (details.committed false,
                                     details.path, details.since: consent.witness_gate)
written_release_required     403     Illinois (BIPA): consent needs an e-signature or signed form
purpose_exists               409     a purpose of that name exists (subjects tell purposes by name)
notice_exists                409     that notice version is published in that language already
order_in_force               409     a regulator's order under that reference is in force already
                                     (a repeat, or another kind under it): nothing is recorded
review_lapsed                409     the candidate's consent to the search's purpose (or, for an
                                     identify, their opt-in) ended, or they were erased, before
                                     the review was decided: the review is closed as ``lapsed``
ledger_unavailable           503     the ledger's database cannot be reached for now (PostgreSQL
                                     down or restarting); retry after ``Retry-After`` seconds
ledger_restored              503     the running service found the ledger restored (or its log cut)
                                     behind it: the work that found it was not committed, and the
                                     erasure journal is replayed before anything else is answered;
                                     retry after ``Retry-After`` seconds
committed_not_served         503     an act that spent a single-use right (a search's probe
                                     consent, a link, an approved capture) committed, but the
                                     check before its answer found the ledger restored behind
                                     the service: not served while the erasure journal is
                                     replayed; the right is spent, so read what it left (the
                                     subject's templates, the log) before acting again
engine_busy                  503     too many uploads wait for a decode slot (four per slot): retry
                                     after ``Retry-After`` seconds; an identify or verify so
                                     answered has spent its probe consent, like any refusal
internal_error               500     an unexpected failure; nothing about it is returned
===========================  ======  ===============================================================

A code missing from the table (a new domain error) answers 400 for the consent core and 422
for the engine; ``tests/api/test_errors.py`` fails until it is added here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from optinface.consent.errors import UNEXPECTED_FAILURE

if TYPE_CHECKING:
    from fastapi.exceptions import RequestValidationError


class ApiErrorCode(StrEnum):
    """Codes the API itself produces (the domain codes come from the engine and consent core)."""

    VALIDATION_ERROR = "validation_error"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    INTERNAL_ERROR = UNEXPECTED_FAILURE  # the outcome its attempt is audited with


class CliErrorCode(StrEnum):
    """Codes only the command line gives: refusals before, or outside, any request."""

    UNWRITABLE_FILE = "unwritable_file"
    FILE_EXISTS = "file_exists"
    INVALID_SETTINGS = "invalid_settings"
    ADDRESS_UNAVAILABLE = "address_unavailable"
    SERVER_UNREACHABLE = "server_unreachable"
    BENCH_FAILED = "bench_failed"


STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 422,
    "invalid_image": 400,
    "payload_too_large": 413,
    "no_face": 422,
    "multiple_faces": 422,
    "low_quality": 422,
    "invalid_request": 422,
    "unauthenticated": 401,
    "second_factor_required": 401,
    "second_factor_off": 409,
    "forbidden": 403,
    "consent_required": 403,
    "consent_expired": 403,
    "consent_withdrawn": 403,
    "guardian_consent_required": 403,
    "age_unsealed": 403,
    "purpose_not_consented": 403,
    "probe_consent_required": 403,
    "operation_not_allowed": 403,
    "written_release_required": 403,
    "alternative_chosen": 409,
    "subject_credential_required": 403,
    "revoke_other_in_portal": 403,
    "ends_processing_only": 403,
    "passkey_invalid": 403,
    "passkey_unsealed": 403,
    "challenge_invalid": 403,
    "capacity_not_held": 403,
    "face_mismatch": 403,
    "reenrol_at_desk": 403,
    "template_limit": 409,
    "subject_data_unreadable": 409,
    "template_not_replaceable": 409,
    "already_registered": 409,
    "link_invalid": 410,
    "receipt_code_invalid": 410,
    "erasure_receipt_altered": 409,
    "not_found": 404,
    "purpose_exists": 409,
    "notice_exists": 409,
    "order_in_force": 409,
    "review_lapsed": 409,
    "method_not_allowed": 405,
    "subject_erased": 410,
    "not_declared": 409,
    "declaration_period_running": 409,
    "redeclaration_required": 409,
    "declaration_unsealed": 409,
    "assessment_outdated": 409,
    "suspended_by_regulator": 409,
    "regulator_orders_altered": 409,
    "eu_representative_required": 409,
    "transfer_assessment_required": 409,
    "wording_changed": 409,
    "consent_narrowed": 409,
    "model_mismatch": 409,
    "rate_limited": 429,
    "not_calibrated": 503,
    "model_integrity": 503,
    "index_corrupt": 503,
    "unreadable_file": 400,
    "unwritable_file": 400,
    "file_exists": 409,
    "invalid_settings": 503,
    "address_unavailable": 503,
    "server_unreachable": 503,
    "bench_failed": 503,
    "data_dir_in_use": 409,
    "log_not_as_witnessed": 409,
    "data_dir_unusable": 503,
    "placeholder_accountability": 503,
    "manifest_unreadable": 503,
    "witness_unusable": 503,
    "ledger_altered": 503,
    "erasure_unfinished": 503,
    "write_unfinished": 503,
    "key_store_unusable": 503,
    "key_file_exposed": 503,
    "key_unavailable": 503,
    "ledger_unavailable": 503,
    "ledger_restored": 503,
    "committed_not_served": 503,
    "engine_busy": 503,
    "internal_error": 500,
}


def status_for(code: str, *, default: int) -> int:
    """The HTTP status of ``code``; ``default`` for a code the table does not hold yet."""
    return STATUS_BY_CODE.get(code, default)


_WITHOUT_THE_INPUT = {
    "union_tag_invalid": "the {discriminator} is none of the expected tags: {expected_tags}",
}
"""Messages for the error types whose pydantic message quotes the input (an unknown ``act``
was sent back whole, NULs and bidi controls included), from their other context."""


def validation_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    """Location, message and type of each problem; the offending input is never echoed back
    (a request's, or the options a command validates as the API does)."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": (_WITHOUT_THE_INPUT[error["type"]].format_map(error.get("ctx", {}))
                    if error.get("type") in _WITHOUT_THE_INPUT else error.get("msg", "")),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
