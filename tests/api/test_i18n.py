"""Every page text has its French: the source strings of the templates and page modules."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from optinface.api.web import export, vocabulary
from optinface.api.web.french import FRENCH
from optinface.api.web.i18n import Language, Words, negotiate
from optinface.consent import declaration, incidents, operating_point, register, ropa, transfers
from optinface.consent.audit import AuditAction
from optinface.consent.declaration import OrderKind
from optinface.consent.schemas import SearchOutcome

WEB = Path(vocabulary.__file__).parent
# _("text") and _('text') in templates; _(...), N_(...) and words(...) of a literal in modules.
CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
TRANSLATORS = {"_", "N_", "words", "say"}


def _module_strings(path: Path) -> set[str]:
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in TRANSLATORS
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def source_strings() -> set[str]:
    found: set[str] = set()
    for path in WEB.glob("templates/*.html"):
        for double, single in CALL.findall(path.read_text(encoding="utf-8")):
            found.add(double or single)
    for path in WEB.glob("*.py"):
        if path.stem not in {"i18n", "french"}:
            found |= _module_strings(path)
    for table in (vocabulary.ACTIONS, vocabulary.OUTCOMES, vocabulary.ERASURE_REASONS,
                  vocabulary.ENDED_REASONS,
                  vocabulary.ROLES, vocabulary.ERRORS, vocabulary.STATUSES,
                  vocabulary.REQUEST_STATUSES, vocabulary.REFUSAL_GROUNDS,
                  vocabulary.DISCLOSURE_BASES, vocabulary.DISCLOSE_FIELDS,
                  vocabulary.AGE_CATEGORIES, vocabulary.JURISDICTIONS, vocabulary.ORDER_KINDS,
                  vocabulary.ALERTS, vocabulary.CAPACITIES, vocabulary.LANGUAGES):
        found.update(table.values())
    found.update(vocabulary.PAGE_MESSAGES)
    found.update(export.CORE_TEXTS)  # the consent core's prose, as "My data" and /privacy show it
    # The incident notices, the register, the record of processing and the PIA skeleton,
    # worded by the core with the reader's Words (consent.wording), and the prose the
    # register's data carry.
    for module in (incidents, register, ropa, operating_point, transfers):
        found |= _module_strings(Path(module.__file__))
    found.update((incidents.TEMPLATES_FOR_THE_REGULATOR, incidents.TEMPLATES_FOR_THE_PERSONS))
    found.update(register.PROSE)
    return found


def test_every_audit_action_has_a_word_and_every_word_names_an_action() -> None:
    """A page shows an action without a word as its bare code; a word for no action is dead."""
    assert set(vocabulary.ACTIONS) == {str(action) for action in AuditAction}


def test_every_kind_of_regulators_order_has_a_word() -> None:
    """An order's kind shown as its bare code stays English on a French page."""
    assert set(vocabulary.ORDER_KINDS) == {str(kind) for kind in OrderKind}


def test_every_page_text_has_a_french_translation() -> None:
    missing = sorted(s for s in source_strings() if s not in FRENCH)
    assert not missing, "\n".join(missing)


def test_translations_keep_their_fields() -> None:
    field = re.compile(r"\{(\w+)\}")
    for english, french in FRENCH.items():
        assert set(field.findall(english)) == set(field.findall(french)), english


def test_no_translation_is_left_over() -> None:
    assert not sorted(set(FRENCH) - source_strings())


def test_the_browser_language_is_chosen_unless_the_reader_switched() -> None:
    assert negotiate("fr-CA,fr;q=0.9,en;q=0.8", None) is Language.FR
    assert negotiate("de-DE,en;q=0.5,fr;q=0.7", None) is Language.FR
    assert negotiate("en-US,en;q=0.9", None) is Language.EN
    assert negotiate("fr-CA", "en") is Language.EN
    assert negotiate(None, None) is None  # the deployment's default, filled in by words_in
    assert negotiate("de-DE,es;q=0.5", None) is None


def test_old_match_outcomes_are_shown_as_candidates_not_verdicts() -> None:
    """Audit rows written before issue 12 say match / no_match: the pages use today's words."""
    assert all(outcome in vocabulary.OUTCOMES for outcome in SearchOutcome)
    assert vocabulary.OUTCOMES["match"] == vocabulary.OUTCOMES[SearchOutcome.CANDIDATES]
    assert vocabulary.OUTCOMES["no_match"] == vocabulary.OUTCOMES[SearchOutcome.NO_CANDIDATE]
    assert "match" not in " ".join(vocabulary.OUTCOMES.values())


def test_a_warning_quoting_a_refusal_reads_wholly_in_french() -> None:
    """The dashboard's "Matching refused: {reason}." quotes the gate's own refusal: the reason
    is reworded too, so a regulator's suspension reads in French on a French page."""
    reason = declaration.SUSPENDED.format(reference="CAI-2026-7", kind="suspension")
    french = Words(Language.FR, ZoneInfo("America/Toronto")).reword(
        register.REFUSED_WARNING.format(reason=reason))
    assert french == ("Recherches refusées : suspendu par l'ordonnance CAI-2026-7 (suspension)"
                      " de l'autorité de contrôle : inscription et recherches refusées.")


def test_a_time_with_no_local_time_is_shown_as_written() -> None:
    """Year 1 UTC is before any time in Toronto and 9999-12-31 UTC after any in Kiritimati
    (UTC+14): the conversion overflows, and the page showing it must not fail."""
    for zone, moment in (("America/Toronto", datetime(1, 1, 1, tzinfo=UTC)),
                         ("Pacific/Kiritimati", datetime(9999, 12, 31, 23, 0, tzinfo=UTC))):
        assert Words(Language.FR, ZoneInfo(zone)).when(moment) == moment.isoformat()
    assert Words(Language.EN, ZoneInfo("America/Toronto")).when(
        "2026-12-01T02:36:00+00:00") == "30 Nov 2026, 21:36 EST"


# French puts a space before a colon, a question mark and an exclamation mark ("Tout effacer ?").
UNSPACED_MARK = re.compile(r"\S[:?!](?=\s|$)")


def test_french_spaces_every_colon_question_and_exclamation_mark() -> None:
    unspaced = {english: french for english, french in FRENCH.items()
                if UNSPACED_MARK.search(french)}
    assert not unspaced, unspaced


def _visible_text(template: str) -> str:
    """A template's own words: its expressions, statements, comments and tags blanked out."""
    template = re.sub(r"\{#.*?#\}", " ", template, flags=re.DOTALL)
    template = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "x", template, flags=re.DOTALL)
    return re.sub(r"<[^>]*>", " ", template)


def test_no_template_writes_a_mark_outside_the_translated_words() -> None:
    """A colon written in the template itself ("{{ _("Purpose") }}: ...") is the English one on
    a French page ("Finalité: ..."): it belongs in the translated words (``_("{label}:")``)."""
    written = {path.name: UNSPACED_MARK.findall(_visible_text(path.read_text(encoding="utf-8")))
               for path in WEB.glob("templates/*.html")}
    assert not {name: marks for name, marks in written.items() if marks}
