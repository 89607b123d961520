"""Typed engine errors with stable codes.

Every refusal the engine can produce is a narrow subclass of :class:`EngineError` whose
``code`` is part of the public contract (the API maps it to a 4xx answer unchanged).
Messages never contain image bytes, embeddings or personal data.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code: str = "engine_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class InvalidImage(EngineError):
    """The bytes are not a decodable image of an allowed format."""

    code = "invalid_image"


class ImageTooLarge(EngineError):
    """The upload exceeds the byte limit or declares more pixels than allowed."""

    code = "payload_too_large"


class EngineBusy(EngineError):
    """Too many uploads wait for a decode slot: refused at once, to be retried, rather than
    holding a server thread for as long as the queue takes."""

    code = "engine_busy"

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class NoFace(EngineError):
    """No face was found where exactly one is required."""

    code = "no_face"


class MultipleFaces(EngineError):
    """More than one face: refusing protects the bystander in the picture."""

    code = "multiple_faces"


class LowQuality(EngineError):
    """The face is too small or too uncertain to make a reliable template."""

    code = "low_quality"


class ModelIntegrityError(EngineError):
    """A model file is missing or its SHA-256 differs from the manifest."""

    code = "model_integrity"


class ManifestUnreadable(EngineError):
    """The model manifest or the thresholds file is missing or is not valid TOML."""

    code = "manifest_unreadable"


class ModelMismatch(EngineError):
    """Templates from two different models cannot be compared."""

    code = "model_mismatch"


class IndexCorrupt(EngineError):
    """The saved index cannot be read back."""

    code = "index_corrupt"


class UnreadableFile(EngineError):
    """A file named on the command line could not be read from disk."""

    code = "unreadable_file"


class UnwritableFile(EngineError):
    """A command's output could not be written whole (a full disk under the file it is
    redirected to)."""

    code = "unwritable_file"
