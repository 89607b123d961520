"""The accuracy operating point: the threshold a search applies, how often it errs, who confirms.

A face search errs (GDPR art. 5(1)(d)): at the threshold calibrated for the configured
false-match rate (``OPTINFACE_MATCH_FMR``, looked up in the thresholds file that
``benchmarks/calibrate.py`` writes), about that share of comparisons between two different
people score as a candidate. How many such errors a deployment accepts, and how many people
must confirm a candidate before it counts, is therefore part of what it declares (LCCJTI art.
45) and what its impact assessment weighs: the point is in the register's material
(:mod:`consent.declaration`), so another rate, another calibration or another number of
verifiers suspends matching until the register is declared (and, outside demo mode, assessed)
again, like another purpose or model.

The point is read once per check (:func:`in_force`): what the register states and the
declaration hashes, and the threshold a match then applies, come from the same reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from optinface.consent.review import CONFIRMATIONS
from optinface.consent.schemas import OperatingPoint, Operation, SearchOutcome
from optinface.consent.wording import Say, english
from optinface.engine.errors import EngineError
from optinface.engine.manifest import ModelRole, ModelSpec
from optinface.engine.settings import EngineSettings
from optinface.engine.thresholds import Threshold, threshold_for


@dataclass(frozen=True, slots=True)
class InForce:
    """One reading of the operating point: ``stated`` for the register and the material, and
    ``calibrated``, the threshold a match applies or why there is none (no calibration at the
    configured rate, or a thresholds file that cannot be read): then matching is refused."""

    stated: OperatingPoint
    calibrated: Threshold | EngineError


def in_force(settings: EngineSettings, models: dict[str, ModelSpec]) -> InForce:
    """The operating point of the loaded recognizer (the one in ``models``) at the configured
    false-match rate. The thresholds file's parse is kept while the file is unchanged
    (:func:`engine.thresholds.load_thresholds`), so a check costs a ``stat``."""
    model_id = next(m.id for m in models.values() if m.role is ModelRole.RECOGNIZER)
    calibrated: Threshold | EngineError
    try:
        calibrated = threshold_for(settings.thresholds_path, model_id=model_id,
                                   fmr=settings.match_fmr)
    except EngineError as error:
        calibrated = error
    found = calibrated if isinstance(calibrated, Threshold) else None
    return InForce(stated=OperatingPoint(
        model_id=model_id,
        fmr=found.fmr if found else settings.match_fmr,
        threshold=found.threshold if found else None,
        fnmr=found.fnmr if found else None,
        dataset=found.dataset if found else None,
        calibrated_on=found.calibrated_on if found else None,
        outcomes=list(SearchOutcome),
        confirmations_required=dict(CONFIRMATIONS),
    ), calibrated=calibrated)


def statements(point: OperatingPoint, say: Say = english) -> list[str]:
    """The point in words, one statement each, in the words ``say`` gives (the register's
    section, the record of processing's measures and the assessment's risks). Its figures
    keep every digit the calibration wrote: they are what was declared. The data set is the
    calibration's own description, quoted as written."""
    fmr = say.decimal(f"{point.fmr:g}")
    calibration = (
        say("threshold {threshold} (a score at or above it makes a candidate), calibrated for a"
            " false-match rate of {fmr} on {dataset} ({date}); false non-match rate there"
            " {fnmr}", threshold=say.decimal(repr(point.threshold)), fmr=fmr,
            dataset=point.dataset, date=say.day(point.calibrated_on or ""),
            fnmr=say.decimal(f"{point.fnmr:g}"))
        if point.threshold is not None else
        say("no threshold calibrated for a false-match rate of {fmr}: matching is refused",
            fmr=fmr))
    confirmations = point.confirmations_required
    return [
        say("model {model}: {calibration}", model=point.model_id, calibration=calibration),
        say("a search answers candidates for review or none, never an identification:"
            " {outcomes}", outcomes=", ".join(say(str(o)) for o in point.outcomes)),
        say("a candidate counts only once confirmed by {identify} different verifiers for a 1:N"
            " identify, {verify} for a 1:1 verify; never by the key that ran the search",
            identify=say.number(confirmations[Operation.IDENTIFY]),
            verify=say.number(confirmations[Operation.VERIFY])),
    ]
