"""Transfers: where the data of each jurisdiction's persons are kept, and what protects them.

The GDPR's record of processing states transfers to third countries and their safeguards
(art. 30(1)(e); chapter V), and Québec asks for an assessment before personal information is
communicated outside Québec (P-39.1 s. 17). Both follow from two settings, where the database
is hosted and which persons the deployment accepts, so they are derived here rather than typed
in, and a change of hosting shows at once. Illinois (BIPA) sets no rule on where data are kept,
so it has no entry.

The hosting country is read as an ISO 3166 alpha-2 code and the Québec region by name: a
value that is neither counts as outside, the cautious reading (a transfer stated that a reader
can dismiss, rather than one left unsaid).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from optinface.consent.accountability import accepts
from optinface.consent.schemas import Transfer
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.wording import Say, english

# GDPR chapter V: a "third country" is outside the European Economic Area (the EU 27 and, by
# the EEA agreement, Iceland, Liechtenstein and Norway).
EEA = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
})
_QUEBEC_IN_TEXT = re.compile(r"qu[ée]bec|\bqc\b", re.IGNORECASE)
"""The hosting region is the operator's declared description ("Montréal, Québec"): Québec
named anywhere in it."""
_QUEBEC_BY_NAME = re.compile(r"\s*(qu[ée]bec|qc|ca-qc)\s*", re.IGNORECASE)
"""A recipient's region is one name typed at a disclosure: within Québec only when it is
Québec's own ("Quebec Street, Toronto" or "Ontario, near Québec" is not)."""
AREAS = {Jurisdiction.QC: "Québec", Jurisdiction.EU: "the EEA"}
"""The jurisdictions with a transfer rule, and the area their persons' data would leave (the
pages translate these names)."""


def within(jurisdiction: Jurisdiction, *, country: str, in_quebec: bool) -> bool:
    """Whether a place (a country code, and whether its region is Québec) lies in the area
    whose law protects ``jurisdiction``'s persons: Québec, or the EEA (for plain ``EU`` and
    each member state alike). A jurisdiction with no transfer rule here (Illinois, the UK) has
    no area to leave, so every place is within."""
    if jurisdiction is Jurisdiction.QC:
        return country.strip().upper() == "CA" and in_quebec
    if jurisdiction.regime is Jurisdiction.EU:
        return country.strip().upper() in EEA
    return True


def area_left(jurisdiction: Jurisdiction, *, country: str, region: str | None) -> str | None:
    """The area (:data:`AREAS`) a communication to a recipient in this place takes
    ``jurisdiction``'s persons' data out of, or ``None`` when it stays within: what needs an
    assessment first (P-39.1 s. 17) or a safeguard (GDPR chapter V)."""
    in_quebec = bool(_QUEBEC_BY_NAME.fullmatch(region or ""))
    if within(jurisdiction, country=country, in_quebec=in_quebec):
        return None
    return AREAS[jurisdiction.regime]


def _transfer(jurisdiction: Jurisdiction, settings: ConsentSettings) -> Transfer:
    hosting = settings.hosting
    kept_within = within(jurisdiction, country=hosting.country,
                         in_quebec=bool(_QUEBEC_IN_TEXT.search(hosting.region)))
    return Transfer(jurisdiction=jurisdiction, area=AREAS[jurisdiction],
                    hosted_in=hosting, transfer=not kept_within,
                    safeguards=None if kept_within else settings.transfer_safeguards)


def transfers(settings: ConsentSettings, *,
              held: Collection[Jurisdiction] = ()) -> list[Transfer]:
    """One entry per jurisdiction with a transfer rule whose persons this deployment accepts
    (:func:`consent.accountability.accepts`) or still ``held`` (taken while it accepted them):
    kept within it, or transferred out under the configured safeguards (``None`` when none is
    stated)."""
    return [_transfer(j, settings) for j in AREAS if accepts(j, settings) or j in held]


def describe(transfer: Transfer, say: Say = english) -> str:
    """The register's line for ``transfer``, in the words ``say`` gives (the regulator's page,
    ``_transfer.html``, states the same fields, and words a hosting without a transfer with
    the same source string). The safeguards are the operator's own words."""
    where = {"country": transfer.hosted_in.country, "region": transfer.hosted_in.region}
    if not transfer.transfer:
        return say("none: hosted in {country} ({region})", **where)
    return say("to {country} ({region}), outside {area}; safeguards: {safeguards}", **where,
               area=say(transfer.area), safeguards=transfer.safeguards or say("none stated"))
