"""What each table of the ledger holds, by category of data: one definition the rules read.

A face template is special-category data (GDPR arts. 4(14), 9(1)), a biometric identifier
(BIPA s. 10) and sensitive information (P-39.1 s. 12): rows G-01 and B-00 of the compliance
matrix ask for that classification to be explicit. The category is held per table, so it holds
for every row of it. Two things read it:

- the register, which states the categories of data held (GDPR art. 30(1)(c));
- the erasure tests (``tests/consent/test_classification.py``): every biometric or key table
  must name its subject, and an erasure must leave it no row naming the subject, so a table
  added later is held to the rule; a table nobody classified fails them too.

The vectors of probes have no table: they live for the request only (X-RET).
"""

from __future__ import annotations

from enum import StrEnum


class DataCategory(StrEnum):
    BIOMETRIC = "biometric"  # special category: encrypted under per-subject keys, erased at once
    KEY = "key"  # keys that open biometric data: destroyed with them
    PERSONAL = "personal"  # about one person, by pseudonym or keyed hash, never a name
    PROOF = "proof"  # kept after the processing as evidence, naming no one
    OPERATIONAL = "operational"  # about the system and its staff, no data subject


TABLES: dict[str, DataCategory] = {
    "templates": DataCategory.BIOMETRIC,
    "subject_keys": DataCategory.KEY,
    "key_epochs": DataCategory.KEY,
    "subjects": DataCategory.PERSONAL,
    "consents": DataCategory.PERSONAL,
    "consent_purposes": DataCategory.PERSONAL,
    "purpose_withdrawals": DataCategory.PERSONAL,
    "passkey_credentials": DataCategory.PERSONAL,
    "subject_tokens": DataCategory.PERSONAL,
    "one_time_links": DataCategory.PERSONAL,
    "page_sessions": DataCategory.PERSONAL,
    "ceremonies": DataCategory.PERSONAL,
    "probe_consents": DataCategory.PERSONAL,
    "match_reviews": DataCategory.PERSONAL,
    "review_votes": DataCategory.PERSONAL,
    "rights_requests": DataCategory.PERSONAL,
    "disclosures": DataCategory.PERSONAL,
    "audit_events": DataCategory.PERSONAL,
    "index_changes": DataCategory.PERSONAL,
    "tombstones": DataCategory.PROOF,
    "erased_credentials": DataCategory.PROOF,
    "erasure_receipt_codes": DataCategory.PROOF,
    "api_keys": DataCategory.OPERATIONAL,
    "admin_passkeys": DataCategory.OPERATIONAL,
    "audit_checkpoints": DataCategory.OPERATIONAL,
    "incidents": DataCategory.OPERATIONAL,
    "key_checks": DataCategory.OPERATIONAL,
    "notices": DataCategory.OPERATIONAL,
    "operator_texts": DataCategory.OPERATIONAL,
    "purposes": DataCategory.OPERATIONAL,
    "register_declarations": DataCategory.OPERATIONAL,
    "regulator_orders": DataCategory.OPERATIONAL,
    "retention_policies": DataCategory.OPERATIONAL,
}

DESCRIPTIONS: dict[DataCategory, str] = {
    DataCategory.BIOMETRIC: "biometric data, a special category (GDPR art. 9; BIPA biometric"
                            " identifier; P-39.1 sensitive information): face templates,"
                            " 512-number vectors encrypted under each subject's own key",
    DataCategory.KEY: "the keys that open the templates: each subject's, wrapped by an epoch"
                      " key; destroyed at erasure",
    DataCategory.PERSONAL: "pseudonymous personal data: the subject's record, consents and"
                           " receipts, passkeys' public keys, requests, reviews and the access"
                           " log; no photo, and no name but what a person writes in a request",
    DataCategory.PROOF: "proof kept after an erasure, naming no one: keyed hashes and the signed"
                        " receipt, five years",
}


TABLED: dict[DataCategory, str] = {category: f"{text} (tables: {{tables}})"
                                   for category, text in DESCRIPTIONS.items()}
"""Each category's line of the register, naming its tables: the English source strings the
register's readers get in their language (the description is written once, above)."""


def categories_of_data() -> list[str]:
    """The categories of data held, for the register (GDPR art. 30(1)(c)), each with its
    tables; the operational category holds no data subject's data and is left out."""
    return [TABLED[category].format(
                tables=", ".join(sorted(t for t, c in TABLES.items() if c is category)))
            for category in DESCRIPTIONS]
