"""The enrolment quality gate: a template made from a tiny or uncertain face is a future
false match or false non-match, so it is refused with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from optinface.engine.errors import LowQuality
from optinface.engine.types import DetectedFace


@dataclass(frozen=True, slots=True)
class QualityPolicy:
    """Configurable minimums; each failed one is reported as a reason."""

    min_det_score: float
    min_inter_eye_px: float
    min_face_px: float


def quality_problems(face: DetectedFace, policy: QualityPolicy) -> list[str]:
    """The reasons ``face`` fails the policy (empty when it passes)."""
    problems = []
    if face.score < policy.min_det_score:
        problems.append(f"detector score {face.score:.2f} < {policy.min_det_score:.2f}")
    if face.inter_eye_distance < policy.min_inter_eye_px:
        problems.append(
            f"inter-eye distance {face.inter_eye_distance:.1f}px < {policy.min_inter_eye_px:.1f}px"
        )
    if min(face.width, face.height) < policy.min_face_px:
        problems.append(
            f"face {face.width:.0f}x{face.height:.0f}px smaller than {policy.min_face_px:.0f}px"
        )
    return problems


def require_quality(face: DetectedFace, policy: QualityPolicy) -> None:
    """Raise :class:`LowQuality` listing every failed minimum."""
    problems = quality_problems(face, policy)
    if problems:
        raise LowQuality("face quality too low for enrolment", details={"reasons": problems})
