"""Typed refusals of the consent core, each with a stable ``code`` (part of the API contract).

Messages and details carry pseudonyms and ids only: never embeddings, images or personal data.
Engine refusals (``not_calibrated``, ``no_face``, ``model_mismatch``...) pass through unchanged.
"""

from __future__ import annotations

from typing import Any


class ConsentError(Exception):
    """Base of every refusal the consent core raises on purpose."""

    code: str = "consent_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


UNEXPECTED_FAILURE = "internal_error"
"""The code of a failure that is no refusal (a bug, a crash): the API answers it, and a matching
attempt it ends is audited with it (:mod:`consent.refusals`). The caller did nothing wrong, so it
counts neither against their quota (:mod:`consent.quota`) nor as probing the gates
(:mod:`consent.anomalies`)."""


RECEIPT_MISMATCH = "receipt_mismatch"
"""The ``problem`` of a ``consent_required`` or ``probe_consent_required`` refusal whose row (a
consent, a probe consent) grants more than its signed receipt: written without the signing key,
so not the person's act (:mod:`consent.authority`)."""


class ConsentRequired(ConsentError):
    """No active consent covers the operation."""

    code = "consent_required"


class ConsentExpired(ConsentError):
    code = "consent_expired"


class ConsentWithdrawn(ConsentError):
    code = "consent_withdrawn"


class GuardianConsentRequired(ConsentError):
    """A minor below the jurisdiction's age of consent needs the holder of parental authority."""

    code = "guardian_consent_required"


class AgeUnsealed(ConsentError):
    """The subject's declared age or jurisdiction carries no valid seal
    (:func:`consent.row_seals.age_sealed`): written into the database without the key store, it
    decides no one's capacity to consent, neither the person's nor a guardian's."""

    code = "age_unsealed"


class PurposeNotConsented(ConsentError):
    code = "purpose_not_consented"


class ProbeConsentRequired(ConsentError):
    """The person in the probe has not (or no longer) agreed to this search."""

    code = "probe_consent_required"


class NotDeclared(ConsentError):
    """Matching is refused until the biometric database has been declared."""

    code = "not_declared"


class DeclarationPeriodRunning(NotDeclared):
    """Declared, but the period before service (Québec: 60 days) has not run yet."""

    code = "declaration_period_running"


class RedeclarationRequired(NotDeclared):
    """A material field of the register changed since the declaration."""

    code = "redeclaration_required"


class DeclarationUnsealed(NotDeclared):
    """The latest declaration's record carries no valid seal (:mod:`consent.row_seals`): its
    material hash or dates were written without the key store, so it does not count."""

    code = "declaration_unsealed"


class AssessmentOutdated(NotDeclared):
    """The privacy impact assessment does not cover the register as it stands."""

    code = "assessment_outdated"


class SuspendedByRegulator(NotDeclared):
    """A regulator's suspension or destruction order is in force."""

    code = "suspended_by_regulator"


class RegulatorOrdersAltered(NotDeclared):
    """The regulator's orders in the database are not those the chained audit log holds in
    force (:mod:`consent.order_anchor`) or the witness journal (:mod:`consent.journal_ends`):
    one deleted, lifted or changed from outside, or one whose row never committed."""

    code = "regulator_orders_altered"


class OperationNotAllowed(ConsentError):
    """The purpose does not include this operation."""

    code = "operation_not_allowed"


class NotFound(ConsentError):
    code = "not_found"


class PurposeExists(ConsentError):
    """A purpose of that name exists: subjects tell purposes apart by their names."""

    code = "purpose_exists"


class NoticeExists(ConsentError):
    """A notice of that version and language is published: a notice is never replaced."""

    code = "notice_exists"


class OrderInForce(ConsentError):
    """A regulator's order under that reference is in force already: a reference names one
    order, so a repeat (or another kind of order under it) records nothing."""

    code = "order_in_force"


class ReviewLapsed(ConsentError):
    """The candidate's basis for the search ended before verifiers decided (a withdrawal, an
    erasure, an opt-out, an expiry): no one may confirm, nor look at, what no longer has one."""

    code = "review_lapsed"


class SubjectErased(ConsentError):
    """The pseudonym was erased; it can never be used again."""

    code = "subject_erased"


class InvalidRequest(ConsentError):
    """Well-formed but against a rule (e.g. a consent longer than allowed)."""

    code = "invalid_request"


class QuotaExceeded(ConsentError):
    """The key spent its daily identify attempts; it may try again after UTC midnight."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, retry_after_seconds: float
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds


class Forbidden(ConsentError):
    code = "forbidden"


class Unauthenticated(ConsentError):
    code = "unauthenticated"


class SecondFactorRequired(Unauthenticated):
    """An admin-only act over the API without a valid step-up of the key's own passkey, where
    ``admin_mfa`` is on (:mod:`consent.admin_mfa`); ``details.problem`` says what is missing.
    An :class:`Unauthenticated`: the API throttles it as a failed credential."""

    code = "second_factor_required"


class SecondFactorOff(ConsentError):
    """An admin passkey's own act while ``admin_mfa`` is off: nothing is bound before the
    operator turns the second factor on (:mod:`consent.admin_mfa`)."""

    code = "second_factor_off"


class WrittenReleaseRequired(ConsentError):
    """Illinois (BIPA s. 15(b)): consent must be a written release, not a click."""

    code = "written_release_required"


class AlternativeChosen(ConsentError):
    """The person chose the non-biometric alternative: their face is not used."""

    code = "alternative_chosen"


class PlaceholderAccountability(ConsentError):
    """Who answers for the database is still a placeholder, outside demo mode."""

    code = "placeholder_accountability"


class EuRepresentativeRequired(ConsentError):
    """An EU data subject, while a controller with no EU establishment names no EU
    representative (GDPR art. 27), outside demo mode."""

    code = "eu_representative_required"


class TransferAssessmentRequired(ConsentError):
    """A disclosure that takes a person's data out of the area whose law protects them
    (Québec: P-39.1 s. 17; the EEA: GDPR chapter V) names no assessment or safeguard."""

    code = "transfer_assessment_required"


class DataDirInUse(ConsentError):
    """Another process has the data directory open (see :mod:`consent.lock`)."""

    code = "data_dir_in_use"


class DataDirUnusable(ConsentError):
    """The data directory cannot be created or written (permissions, a file in the way)."""

    code = "data_dir_unusable"


class LedgerAltered(ConsentError):
    """The ledger's tables carry triggers, rules or row security the service did not make
    (:mod:`consent.ledger_alterations`): they can undo its writes in silence, so it does not
    start on them, and signs no erasure receipt while they are there."""

    code = "ledger_altered"


class ErasureUnfinished(ConsentError):
    """An erasure found, in its own transaction before its receipt was signed, rows of the
    subject its deletes had not removed (kept by something in the database): rolled back,
    nothing signed, the subject kept unsearchable; the next sweep tries again
    (:mod:`consent.erasure`)."""

    code = "erasure_unfinished"


class WriteUnfinished(ConsentError):
    """A withdrawal, a template's destruction or a revocation found, in its own transaction
    before anything was signed or answered, that the ledger did not keep what it changed
    (:func:`consent.ledger_alterations.require_held`): rolled back, the person told; its
    journal line makes the next start make it again."""

    code = "write_unfinished"

    @classmethod
    def kept(cls, tables: list[str]) -> WriteUnfinished:
        """The refusal naming the ``tables`` that kept what the write changed."""
        return cls("the ledger did not keep what this request changed (" + ", ".join(tables)
                   + "): something on its tables undid it; nothing is signed or changed, the"
                   " request was journaled and the next start makes it again once that is"
                   " dropped", details={"kept": tables})


class WitnessUnusable(ConsentError):
    """The witness folder cannot be created or written, pins another checkpoint key, or is not
    the witness the key store recorded (:mod:`consent.witness_binding`).

    Refused at start: a log whose checkpoints go nowhere outside the data directory, or that
    another key signs, is no longer checkable by an outsider.
    """

    code = "witness_unusable"


class WitnessStalled(WitnessUnusable):
    """The running service's witness folder refused a checkpoint and refuses it still
    (:attr:`consent.witness.Witness.stalled`): a new act is refused before it does anything
    (``details.committed`` false), as the gate decides (:mod:`consent.witness_gate`). Never
    chained: the log it would join cannot be witnessed."""


class LedgerRestored(ConsentError):
    """The running service found the ledger restored behind it (the log shorter than, or other
    than, what it appended or read, or than the witness signed): nothing is answered from the
    restored copy until the start's replay of the erasure journal has made it agree again
    (:mod:`consent.live_replay`). The work that found it is not committed; retry."""

    code = "ledger_restored"
    retry_after_seconds = 1.0


class CommittedNotServed(ConsentError):
    """An act that spent a single-use right committed, outcome and event, but the check made
    before it is answered (:mod:`consent.spent_rights`) found the ledger restored behind the
    service (:class:`LedgerRestored`): its outcome is not served while the erasure journal is
    replayed. Not to be retried as it was (the right is spent): read what it left first."""

    code = "committed_not_served"
    retry_after_seconds = 1.0


class LogNotAsWitnessed(ConsentError):
    """The audit log is not, or was not at some start, the one its witness signed (events lost
    or rewritten, a new witness folder taken up, events appended without the key store, or the
    keyed seals' adoption refused): the operator's reseal vouches for nothing on it."""

    code = "log_not_as_witnessed"


class KeyStoreUnusable(ConsentError):
    """The key store cannot be used: inside the data directory, unreachable, or no token."""

    code = "key_store_unusable"


class KeyFileExposed(ConsentError):
    """A key file (or the key folder) is open to the group or others: refused at load."""

    code = "key_file_exposed"


class KeyUnavailable(ConsentError):
    """The epoch key that wrapped a subject key is destroyed (crypto-shredded)."""

    code = "key_unavailable"


class EndsProcessingOnly(Forbidden):
    """The person's session, opened while the witness folder refused checkpoints, may only end
    processing (:mod:`consent.ending_acts`): withdraw, erase, opt out, revoke, sign out. Signing
    in again, once the folder takes checkpoints, opens a session that may do the rest."""

    code = "ends_processing_only"
    WHY = ("this sign-in was made while the audit log's witness folder refused checkpoints: it"
           " may only end processing (withdraw, erase, opt out, revoke, sign out); sign in again"
           " once the service answers everything again")


class SubjectCredentialRequired(ConsentError):
    """Only the person (or the holder of parental authority), signing with their own passkey,
    may do this: an operator's key never acts in a subject's name."""

    code = "subject_credential_required"


class RevokeOtherInPortal(ConsentError):
    """A subject token asked, over the API, to revoke one other token of its person: a token
    revokes itself or all of them; which to keep is picked in the portal, where the person's
    passkey signed them in, so a stolen token cannot cut the person off and stay live."""

    code = "revoke_other_in_portal"


class PasskeyInvalid(ConsentError):
    """The WebAuthn response does not verify (signature, challenge, origin or credential)."""

    code = "passkey_invalid"


class PasskeyUnsealed(PasskeyInvalid):
    """The passkey's record carries no valid seal (:mod:`consent.row_seals`): written into the
    database without the key store, never registered through the service; it signs nothing."""

    code = "passkey_unsealed"


class ChallengeInvalid(ConsentError):
    """The challenge is unknown, already used, expired, or for another subject or act."""

    code = "challenge_invalid"


class WordingChanged(ConsentError):
    """The consent form's wording (its purposes, recipients, safeguards and retention rules, in
    the reader's language) is no longer the one the person was shown: they read it again before
    signing (:mod:`consent.consent_form`)."""

    code = "wording_changed"


class ConsentNarrowed(ConsentError):
    """A consent's row covers fewer purposes than its signed receipt less the purposes its
    person withdrew (written without the signing key): a purpose withdrawal is refused, so
    what remains is never decided from the row alone (:mod:`consent.authority`)."""

    code = "consent_narrowed"


class LinkInvalid(ConsentError):
    """The one-time link is unknown, already used or expired."""

    code = "link_invalid"


class ReceiptCodeInvalid(ConsentError):
    """The erasure receipt's one-time code is unknown, expired or used up (one answer for all,
    so a guesser learns nothing)."""

    code = "receipt_code_invalid"


class ErasureReceiptAltered(ConsentError):
    """The signed erasure receipt a tombstone keeps does not verify under this deployment's
    receipt key, or names another subject hash than its tombstone (written in the database,
    re-signed with another key): it is not served as this erasure's proof, the refusal is
    chained (``erasure_receipt_altered``) and logged (:mod:`consent.erasure_receipts`)."""

    code = "erasure_receipt_altered"


class AlreadyRegistered(ConsentError):
    """A passkey of this capacity is registered already: no new enrolment link is issued, and
    no link issued before registers another."""

    code = "already_registered"


class CapacityNotHeld(ConsentError):
    """The credential does not hold the capacity claimed (a minor's own passkey is never the
    holder of parental authority)."""

    code = "capacity_not_held"


class FaceMismatch(ConsentError):
    """The face does not match the subject's enrolled templates: one person per subject."""

    code = "face_mismatch"


class SubjectDataUnreadable(ConsentError):
    """The subject's wrapped data key, or one of their templates, does not open for them
    (written in the database without the key store: moved from another subject's row, or
    bound to another person, see :meth:`consent.keys.KeyRing.unwrap`): nothing is enrolled,
    compared or exported from it. The start leaves such templates out of the index and says so;
    the next epoch rotation deletes a key that does not open; an erasure still destroys it all.
    """

    code = "subject_data_unreadable"


class ReenrolAtDesk(ConsentError):
    """A subject enrolled before holds no template this face could be compared with (all
    destroyed, or all of another model): only a capture the desk opened, where a person checks
    who stands there, enrols them again. Otherwise one token could enrol another face as "the
    first" once its own templates are gone (red team 6, finding 1)."""

    code = "reenrol_at_desk"


class TemplateLimit(ConsentError):
    """The subject has as many templates as allowed."""

    code = "template_limit"


class TemplateNotReplaceable(ConsentError):
    """The template a capture replaces is not one of the subject's under the capture's consent
    (unknown, another subject's, already gone, or of another consent): nothing is enrolled."""

    code = "template_not_replaceable"
