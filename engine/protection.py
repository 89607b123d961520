"""Template protection: a secret orthogonal rotation per deployment.

Every stored and indexed vector is ``v @ R``. Cosine similarity is unchanged (R is orthogonal),
but templates leaked from two deployments cannot be linked to each other or to a public
model's raw embeddings, and re-keying renews every template without re-capturing a face.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

from optinface.engine.types import Vector


class TemplateProtector:
    """Applies and removes the deployment's secret rotation."""

    def __init__(self, rotation: Vector) -> None:
        if rotation.ndim != 2 or rotation.shape[0] != rotation.shape[1]:
            raise ValueError("the rotation must be a square matrix")
        # Not orthogonal (a key overwritten with other bytes): cosines would change and every
        # search would quietly miss.
        with np.errstate(all="ignore"):  # garbage bytes overflow: the check says so itself
            orthogonal = np.allclose(rotation @ rotation.T, np.eye(rotation.shape[0]), atol=1e-3)
        if not orthogonal:
            raise ValueError("the rotation must be orthogonal")
        self._rotation = rotation.astype(np.float32)

    @classmethod
    def generate(cls, dim: int = 512) -> TemplateProtector:
        """A fresh uniformly random orthogonal matrix (QR of a Gaussian, sign-corrected)."""
        rng = np.random.default_rng()  # seeded from the OS entropy pool
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        return cls((q * np.sign(np.diag(r))).astype(np.float32))

    @classmethod
    def from_bytes(cls, data: bytes) -> TemplateProtector:
        """The key as :meth:`to_bytes` wrote it (the key store keeps it, not the engine).

        Raises:
            ValueError: ``data`` is not an orthogonal matrix in ``.npy`` form (truncated, empty).
        """
        try:
            return cls(np.load(io.BytesIO(data), allow_pickle=False))
        except EOFError as error:
            raise ValueError("the rotation is empty") from error

    def to_bytes(self) -> bytes:
        """The matrix as ``.npy`` bytes: what the key store holds."""
        buffer = io.BytesIO()
        np.save(buffer, self._rotation, allow_pickle=False)
        return buffer.getvalue()

    @property
    def dim(self) -> int:
        return int(self._rotation.shape[0])

    @property
    def fingerprint(self) -> str:
        """A short public identifier of the key (for the register and audit), not the key."""
        return hashlib.sha256(self._rotation.tobytes()).hexdigest()[:16]

    def protect(self, vectors: Vector) -> Vector:
        """Rotate raw embeddings into this deployment's template space."""
        rotated: Vector = (vectors @ self._rotation).astype(np.float32)
        return rotated

    def unprotect(self, templates: Vector) -> Vector:
        """Back to the model's raw space (R is orthogonal, so its inverse is its transpose)."""
        raw: Vector = (templates @ self._rotation.T).astype(np.float32)
        return raw

    def reprotect(self, templates: Vector, new: TemplateProtector) -> Vector:
        """Move templates protected by this key under ``new`` (re-keying)."""
        return new.protect(self.unprotect(templates))
