"""Words for the codes the pages show: audit actions, outcomes, erasure reasons, error advice.

The English texts here are the source strings; :data:`french.FRENCH` translates them like any
other page text. A code without a word is shown as itself, muted (never hidden).
"""

from __future__ import annotations

from optinface.api.web.i18n import N_
from optinface.consent.schemas import LEGACY_SEARCH_OUTCOMES

ACTIONS: dict[str, str] = {
    "consent_given": "Consent given",
    "consent_withdrawn": "Consent withdrawn",
    "consent_ended": "Consent ended (expiry, retention or coming of age)",
    "enrol": "Photo enrolled",
    "template_replaced": "Template replaced by a new photo (rectification)",
    "verify": "Search (verify one person)",
    "identify": "Search (identify among all)",
    "export": "Data exported",
    "audit_read": "Personal data read by an operator",
    "review_decided": "Candidate reviewed by a verifier",
    "review_lapsed": "Review closed: the candidate's consent ended first",
    "incident_recorded": "Incident recorded",
    "incident_notified": "Incident notified",
    "rights_requested": "Rights request received",
    "rights_answered": "Rights request answered",
    "erase": "Erased",
    "erase_already_done": "Erasure asked, already done by another (answered with its receipt)",
    "erasure_unfinished": "Erasure not finished (kept unsearchable; the next sweep tries again)",
    "sweep": "Retention sweep",
    "key_created": "Key created",
    "key_revoked": "Key revoked",
    "break_glass_opened": "Break-glass admin key issued without a key",
    "admin_passkey_registered": "Administrator's passkey registered",
    "admin_stepped_up": "Administrator stepped up with their passkey",
    "admin_passkey_link_issued": "Administrator's passkey link issued by the operator",
    "register_declared": "Register declared",
    "regulator_order": "Regulator's order applied",
    "regulator_order_lifted": "Regulator's order lifted",
    "login_failure": "Failed log-in",
    "purpose_created": "Purpose created",
    "notice_published": "Notice published",
    "operator_text_translated": "Text translated",
    "retention_policy_published": "Retention policy published",
    "assessment_recorded": "Privacy impact assessment recorded",
    "subject_created": "Volunteer registered",
    "subject_updated": "Volunteer's settings changed",
    "alternative_chosen": "Non-biometric alternative chosen",
    "probe_consent_created": "Consent of a searched person",
    "probe_consent_requested": "Consent asked of a searched person",
    "enrolment_link_created": "Enrolment link issued",
    "passkey_registered": "Passkey registered",
    "passkey_sign_in": "Signed in with a passkey",
    "capture_approved": "Photo approved by the person",
    "subject_token_issued": "API token issued to the person",
    "subject_token_revoked": "API token revoked by the person",
    "own_consent_requested": "Asked for their own consent (came of age)",
    "refused": "Refused",
    "reconciled": "Index reconciled",
    "replica_reconciled": "A worker's index reconciled with the ledger: its change feed had a"
                          " gap or went back, or its index differed",
    "log_rolled_back": "Access log rolled back (events lost: a restore?)",
    "log_rewritten": "Access log rewritten: it no longer holds the events its witness signed",
    "log_truncated": "Access log cut behind the running service: events it wrote are gone",
    "clock_behind": "Host clock set back: events dated no earlier than the newest",
    "witness_adopted": ("Witness folder taken up in place of the lost one: erasures it did not"
                        " hold cannot be replayed"),
    "row_seals_adopted": "Passkeys, opt-ins, declarations, templates and keys sealed (once,"
                         " after an upgrade)",
    "row_seals_not_adopted": "Rows NOT sealed after an upgrade: the log differs from its"
                             " witness",
    "row_seals_resealed": "Rows sealed again by the operator, with the key store",
    "admin_passkeys_adopted": "Admin keys' passkey bindings sealed (once, after an upgrade)",
    "admin_passkeys_not_adopted": "Admin keys' passkey bindings NOT sealed after an upgrade:"
                                  " the log differs from its witness",
    "age_seals_adopted": "Subjects' declared ages sealed (once, after an upgrade)",
    "age_seals_not_adopted": "Declared ages NOT sealed after an upgrade: the log differs from"
                             " its witness",
    "token_seals_adopted": "People's API tokens sealed (once, after an upgrade)",
    "token_seals_not_adopted": "People's API tokens NOT sealed after an upgrade: the log"
                               " differs from its witness",
    "enrolment_seals_adopted": "Whether each subject was enrolled before sealed (once, after"
                               " an upgrade)",
    "enrolment_seals_not_adopted": "Whether subjects were enrolled before NOT sealed after an"
                                   " upgrade: the log differs from its witness",
    "enrolment_lines_adopted": "Subjects enrolled before written in the witness folder's"
                               " journal (once, after an upgrade)",
    "enrolment_lines_not_adopted": "Subjects enrolled before NOT written in the witness"
                                   " folder's journal after an upgrade: the log differs from"
                                   " its witness",
    "subject_status_unknown": "A subject's status is not one the service writes (edited in"
                              " the database)",
    "ledger_altered": "Triggers, rules or row security on the ledger's tables changed (made by"
                      " hand: no erasure receipt is signed while any is there)",
    "log_seals_adopted": "Log events from before keyed seals vouched for (once, after an"
                         " upgrade)",
    "log_seals_not_adopted": "Log events from before keyed seals NOT vouched for: the log"
                             " differs from its witness",
    "log_events_unsealed": "Log events without the service's keyed seal (written with the"
                           " database alone)",
    "log_seals_resealed": "Witnessed log events sealed again by the operator, with the key"
                          " store",
    "log_pruned": "Access events emptied by the retention period (which, and why)",
    "log_prunes_adopted": "Access events emptied before prune records vouched for (once, after"
                          " an upgrade)",
    "checkpoint": "Chain checkpoint signed",
    "key_epoch_rotated": "Key epoch rotated (copies made before unreadable)",
    "receipt_key_rotated": "Receipt key replaced (the old one retired, still checking what it"
                           " signed before)",
    "receipt_key_rotation_adopted": "Receipt key replacement found in the key store, not in"
                                    " the log (its commit failed): chained at start",
    "key_epochs_destroyed": "Old key epochs destroyed (a rotation finished at start)",
    "key_epoch_misdated": "Key epoch dated after its sealed rotation (edited?): rotated on"
                          " the sealed schedule",
    "key_epoch_hours_raised": "Key epoch length raised past what erasure receipts promised:"
                              " this epoch still ends as promised",
    "subject_keys_lost": "Subject keys lost (a copy restored from before a rotation)",
    "subject_keys_renewed": "Subject keys renewed (made before destructions renewed them)",
    "challenge": "Passkey challenge issued",
    "templates_rekeyed": "Templates re-keyed",
    "disclosure": "Data disclosed to a recipient",
    "authority_mismatch": "Use refused: a consent wider than its signed receipt (edited?)",
    "erasure_receipt_altered": "Erasure receipt not served: not the one signed (edited?)",
}

OUTCOMES: dict[str, str] = {
    "ok": "done",
    "candidates_for_review": "candidates for review",
    "no_candidate": "no candidate",
}
# Rows written before issue 12 named a verdict nobody had confirmed: shown as what they were.
OUTCOMES |= {old: OUTCOMES[now] for old, now in LEGACY_SEARCH_OUTCOMES.items()}

ERASURE_REASONS: dict[str, str] = {
    "request": "the person asked",
    "withdrawal": "last consent withdrawn",
    "expiry": "consent expired",
    "retention": "retention period over",
    "inactivity": "no interaction for years",
    "regulator_order": "the regulator ordered destruction",
    "came_of_age": "came of age without consenting in their own name",
}

ENDED_REASONS: dict[str, str] = ERASURE_REASONS | {"withdrawal": "you withdrew it"}
"""Why one consent ended while others kept the person (an end receipt's ``reason``): a
withdrawal there is of that consent, not of the last."""

STATUSES: dict[str, str] = {
    "active": "active",
    "withdrawn": "withdrawn",
    "expired": "expired",
    "erased": "erased",
}

ALERTS: dict[str, str] = {  # consent.anomalies.AlertKind
    "no_candidate_sweep": "{count} of {of} searches found no one: fishing with faces that are"
                          " not in the gallery?",
    "repeated_refusals": "{count} of {of} searches refused: probing the gates?",
    "many_subjects_verified": "verified against {count} different subjects: walking the"
                              " pseudonyms?",
    "unsigned_verify_links": "{count} of {of} verify links asked for expired unsigned: asking"
                             " which pseudonyms can still sign?",
}

ORDER_KINDS: dict[str, str] = {  # consent.declaration.OrderKind, also quoted in warnings
    "suspend": "suspend",
    "destroy": "destroy",
}

REQUEST_STATUSES: dict[str, str] = {  # consent.rights_requests.RequestStatus
    "open": "open",
    "answered": "answered",
    "refused": "refused",
}

DISCLOSURE_BASES: dict[str, str] = {  # consent.schemas.DisclosureBasis (BIPA 15(d))
    "consent": "your consent",
    "financial_transaction": "a financial transaction you asked for",
    "law": "required by law",
    "warrant_subpoena": "a warrant or subpoena",
}

AGE_CATEGORIES: dict[str, str] = {  # consent.schemas.AgeCategory
    "adult": "adult (18 or older)",
    "minor_16_17": "16 or 17 years old",
    "minor_15": "15 years old",
    "minor_14": "14 years old",
    "minor_13": "13 years old",
    "under_13": "under 13",
}

JURISDICTIONS: dict[str, str] = {  # consent.settings.Jurisdiction: whose rules, by name
    "QC": "Québec (Law 25)",
    "EU": "European Union (GDPR)",
    "IL": "Illinois (BIPA)",
    "EU-AT": "Austria (GDPR)",
    "EU-BE": "Belgium (GDPR)",
    "EU-BG": "Bulgaria (GDPR)",
    "EU-CY": "Cyprus (GDPR)",
    "EU-CZ": "Czechia (GDPR)",
    "EU-DE": "Germany (GDPR)",
    "EU-DK": "Denmark (GDPR)",
    "EU-EE": "Estonia (GDPR)",
    "EU-ES": "Spain (GDPR)",
    "EU-FI": "Finland (GDPR)",
    "EU-FR": "France (GDPR)",
    "EU-GR": "Greece (GDPR)",
    "EU-HR": "Croatia (GDPR)",
    "EU-HU": "Hungary (GDPR)",
    "EU-IE": "Ireland (GDPR)",
    "EU-IT": "Italy (GDPR)",
    "EU-LT": "Lithuania (GDPR)",
    "EU-LU": "Luxembourg (GDPR)",
    "EU-LV": "Latvia (GDPR)",
    "EU-MT": "Malta (GDPR)",
    "EU-NL": "Netherlands (GDPR)",
    "EU-PL": "Poland (GDPR)",
    "EU-PT": "Portugal (GDPR)",
    "EU-RO": "Romania (GDPR)",
    "EU-SE": "Sweden (GDPR)",
    "EU-SI": "Slovenia (GDPR)",
    "EU-SK": "Slovakia (GDPR)",
    "UK": "United Kingdom (UK GDPR)",
}

REFUSAL_GROUNDS: dict[str, str] = {  # consent.schemas.RefusalGround
    "manifestly_unfounded": "manifestly unfounded",
    "manifestly_excessive": "manifestly excessive",
}

ROLES: dict[str, str] = {
    "admin": "administrator",
    "portal": "portal",
    "researcher": "researcher",
    "reviewer": "reviewer",
    "verifier": "verifier",
    "subject": "volunteer",
}

# What went wrong and what to do about it, per stable error code.
ERRORS: dict[str, str] = {
    "validation_error": "Something in the form is missing or not in the expected form.",
    "invalid_image": "This file is not a photo we can read. Use a JPEG, PNG or WebP photo.",
    "payload_too_large": "This photo is too large. Use a smaller photo (a phone photo is fine).",
    "no_face": "We found no face in this photo. Use a photo where your face is clearly visible.",
    "multiple_faces": (
        "There is more than one face in this photo. Crop the photo so only you are in it."
    ),
    "low_quality": "Your face is too small or blurred in this photo. Use a sharper, closer photo.",
    "invalid_request": "This request is against one of the rules.",
    "unauthenticated": "Your session has ended. Please log in again.",
    "forbidden": "You may not do this here.",
    "consent_required": "No active consent covers this.",
    "consent_expired": "This consent has expired.",
    "consent_withdrawn": "This consent was already withdrawn.",
    "purpose_not_consented": (
        "No consent in force covers this purpose: this record cannot be compared with a photo"
        " for it."
    ),
    "not_found": "We could not find what you asked for.",
    "subject_erased": "This record was erased. Nothing about it can be used again.",
    "rate_limited": "Too many requests. Please wait a minute and try again.",
    "witness_unusable": (
        "The service has paused: it cannot keep its independent record of what is done here,"
        " and does nothing until it can. Please try again later. If you are signed in, you can"
        " still withdraw your consent or have your data erased."
    ),
    "passkey_invalid": "Your passkey's answer could not be checked. Please try again.",
    "passkey_unsealed": (
        "This passkey was not registered through this service: it cannot act for anyone here."
        " Ask a person for a new link."
    ),
    "challenge_invalid": "This request expired or was already used. Please try again.",
    "guardian_consent_required": (
        "The holder of parental authority must do this, with their passkey."
    ),
    "age_unsealed": (
        "Your declared age was changed outside this service: no one can consent for you until"
        " the organisation has checked it."
    ),
    "capacity_not_held": "Your passkey does not hold parental authority.",
    "face_mismatch": "This photo is not of the same person as your other photos.",
    "reenrol_at_desk": (
        "A photo of you was enrolled before and none is left to compare a new one with: a new"
        " photo of you is enrolled at the enrolment desk, where your identity is checked."
    ),
    "template_limit": "You already have as many photos as allowed.",
    "subject_data_unreadable": (
        "Your record was changed outside this service and cannot be used now. Please tell the"
        " organisation; you can still withdraw your consent or have your data erased."
    ),
    "template_not_replaceable": (
        "The photo this one was to replace is not yours under this consent any more."
    ),
    "link_invalid": (
        "This link was already used, has expired or is incomplete. Ask whoever gave it to you"
        " for a new one."
    ),
    "already_registered": (
        "A passkey already exists for this record. Sign in with it; if it is lost, ask a person"
        " for a new link."
    ),
    "subject_credential_required": (
        "Only the person, or the holder of parental authority, may do this, with their own"
        " passkey."
    ),
    "ends_processing_only": (
        "You signed in while the audit log could not be witnessed: this session can only"
        " withdraw, opt out, erase or log out. Log out and sign in again later for this."
    ),
    "alternative_chosen": "You chose the way without your face: no photo of you is used.",
    "wording_changed": (
        "The texts of this form changed since you opened it. Reload the page, read them again,"
        " then consent."
    ),
    "transfer_assessment_required": (
        "They are outside the area whose law protects you: the controller must first assess"
        " sending your data there. Ask a person below for the reference of that assessment,"
        " then write it in its field."
    ),
}

# The fields of the portal's "Share your record with someone" form, as their labels name them.
DISCLOSE_FIELDS: dict[str, str] = {
    "recipient": "Who receives your record",
    "recipient_country": "Their country (two-letter code, e.g. CA)",
    "recipient_region": "Their province or state",
    "legal_basis": "On which ground",
    "document_reference": "Reference of your authorisation or of their request",
    "transfer_assessment": (
        "Only if they are outside Québec or the EEA: the reference of the controller's assessment"
    ),
}

# The languages a consent form's wording is read in (consent.consent_form), by their code.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "French"}

# Whose passkey was just made, as the passkey page tells it (consent.schemas.ConsentCapacity).
CAPACITIES: dict[str, str] = {
    "self": "It acts in your own name.",
    "parental_authority": "It acts as the holder of parental authority, for the person you act"
                          " for.",
}

# What to tell a person about a refusal whose code has no advice above.
UNEXPLAINED = N_("This could not be done. Please try again later, or ask a person for help.")

# Messages the pages raise themselves (already advice, so shown as they are).
PICK_A_PURPOSE = "Tick at least one use to consent."
CONFIRM_ERASURE = "Tick the box to confirm: this cannot be undone."
WRITE_A_MESSAGE = "Write your message, in at most 2000 characters."
PICK_WHAT_ABOUT = "Choose what your message is about from the list."
NAME_WHO_AND_WHY = ("Write who receives it and the reference, each on one line of at most 200"
                    " characters, their country as two capital letters, and choose a ground"
                    " from the list.")
CONFIRM_TEMPLATE_COPY = ("Tick the box to confirm that you understand what a copy of your"
                         " templates allows.")
PAGE_MESSAGES = frozenset({PICK_A_PURPOSE, CONFIRM_ERASURE, WRITE_A_MESSAGE, PICK_WHAT_ABOUT,
                           NAME_WHO_AND_WHY, CONFIRM_TEMPLATE_COPY})
