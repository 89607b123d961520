"""Decisions a relying party bases on a search: the notice it must relay (P-39.1 s. 12.1).

The system never decides about anyone: a search answers provisional candidates for verifiers
to review (:mod:`consent.review`). A relying party may still base a decision about the person
in the probe on the answer, and only it knows whether it will. So it says so, per search
(``decision_use``); the answer then carries ``automated_decision`` and the notice s. 12.1 owes
the person no later than the decision, which the relying party must relay. The declaration is
chained into the search's audit event, so the person also learns of it from their own export;
the routes the notice names (access, rectification, observations to a person, complaint) are
the accountability record's own, never a second list of contacts.
"""

from __future__ import annotations

from optinface.consent.accountability import accountability
from optinface.consent.schemas import AutomatedDecisionNotice
from optinface.consent.settings import ConsentSettings

BASIS = "P-39.1 s. 12.1; GDPR art. 22(3)"
NOTICE = (
    "{controller} compared your face with those of consenting volunteers by automated"
    " processing, and a decision about you will be based on the result. You may ask for the"
    " personal information used to make it and the reasons and principal factors that led to"
    " it (the score, the threshold and the model), have that information rectified, and submit"
    " your observations to a member of staff who can review the decision: write to {contact}."
)
REVIEW = (
    "Candidates stay provisional until {n} verifier(s) other than the searcher confirm them"
    " (POST /v1/reviews/{{id}}); whether to act on one before is the relying party's decision."
)
OWED_RIGHTS = frozenset({"access", "rectification", "human review and observations",
                         "complaint"})
"""The rights of the accountability record that s. 12.1 names: to know the information used
and the principal factors, to rectify it, and to have a person review it on observations."""


def notice(settings: ConsentSettings, *, confirmations_required: int) -> AutomatedDecisionNotice:
    """The notice of a search declared for a decision, from the one accountability record."""
    record = accountability(settings)
    return AutomatedDecisionNotice(
        basis=BASIS,
        notice=NOTICE.format(controller=record.controller_name,
                             contact=record.privacy_officer_contact),
        controller_name=record.controller_name,
        privacy_officer_contact=record.privacy_officer_contact,
        rights=[r for r in record.rights if r.right in OWED_RIGHTS],
        review=REVIEW.format(n=confirmations_required),
    )
