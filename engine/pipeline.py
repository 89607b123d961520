"""Decode -> detect -> choose faces -> quality gate -> align -> embed, for one image or many.

The batch path detects image by image (each at its own adaptive size) and then embeds every
chosen face of the whole batch in as few onnxruntime calls as possible.

An upload's full-size pixels live only inside its decode slot: decoding, detection and
alignment run there, and what leaves is the 112x112 crops (:meth:`FacePipeline.crop_upload`).
So the memory the decode slots bound is all the memory uploads take, whatever the number of
requests or files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from optinface.engine import core_dumps
from optinface.engine.decode import BgrImage, Decoder
from optinface.engine.detector import FaceDetector
from optinface.engine.embedder import AlignedCrop, FaceEmbedder
from optinface.engine.errors import EngineError, ModelIntegrityError, MultipleFaces, NoFace
from optinface.engine.manifest import ModelRole, ModelSpec, load_manifest, verified_model_path
from optinface.engine.quality import QualityPolicy, require_quality
from optinface.engine.sessions import choose_providers, session_options
from optinface.engine.settings import EngineSettings
from optinface.engine.types import DetectedFace, FaceEmbedding, FacePick


@dataclass(slots=True)
class ImageResult:
    """What the batch path found in one image: the faces, the embeddings of the chosen ones,
    or the engine error that refused it."""

    faces: list[DetectedFace] = field(default_factory=list)
    embeddings: list[FaceEmbedding] = field(default_factory=list)
    error: EngineError | None = None


@dataclass(slots=True)
class Cropped:
    """One image reduced to what embedding needs: its result so far and the aligned crop of
    each chosen face (none when it was refused)."""

    result: ImageResult
    crops: list[tuple[DetectedFace, AlignedCrop]] = field(default_factory=list)


def pick_faces(
    faces: Sequence[DetectedFace], pick: FacePick, *, height: int, width: int
) -> list[DetectedFace]:
    """Choose the faces to embed; ``single`` refuses anything but exactly one face."""
    if not faces:
        raise NoFace("no face found in the image")
    if pick is FacePick.SINGLE:
        if len(faces) > 1:
            raise MultipleFaces(
                f"{len(faces)} faces found, exactly one is required",
                details={"faces": len(faces)},
            )
        return list(faces)
    if pick is FacePick.ALL:
        return list(faces)
    if pick is FacePick.LARGEST:
        return [max(faces, key=lambda f: f.width * f.height)]
    centre = np.array([width / 2, height / 2])
    return [
        min(
            faces,
            key=lambda f: float(
                np.linalg.norm(np.array([(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2])
                - centre)
            ),
        )
    ]


@dataclass(frozen=True, slots=True)
class _Sessions:
    """The two models' ONNX sessions: most of what a pipeline costs to make."""

    detector: FaceDetector
    embedder: FaceEmbedder


class FacePipeline:
    """The engine's one entry point for turning images into templates.

    Its models are checked against the manifest when it is made; their sessions are made then
    too, or on first use where made ``deferred`` (:meth:`from_settings`).
    """

    def __init__(
        self,
        *,
        sessions: Callable[[], _Sessions],
        recognizer: ModelSpec,
        settings: EngineSettings,
        models: dict[str, ModelSpec],
    ) -> None:
        core_dumps.forbid()  # before any image is decoded in this process
        self.models = models
        self._recognizer = recognizer
        self._make_sessions = sessions
        self._sessions: _Sessions | None = None
        self._making = threading.Lock()  # two first uses at once make them once
        self._settings = settings
        self._decoder = Decoder(settings)
        self._quality = QualityPolicy(
            min_det_score=settings.min_det_score,
            min_inter_eye_px=settings.min_inter_eye_px,
            min_face_px=settings.min_face_px,
        )

    @classmethod
    def from_settings(cls, settings: EngineSettings, *, deferred: bool = False) -> FacePipeline:
        """Check the configured models' SHA-256 against the manifest, and load them.

        ``deferred``: check now, load on first use. Loading them (insightface and two ONNX
        sessions) is a fifth of what a command that never embeds (``sweep``, ``keys``,
        ``erase``...) takes (``benchmarks/bench_cli_open.py``); a missing or altered file is
        still refused when the pipeline is made, by every command alike, and again when loaded.
        """
        models = load_manifest(settings.manifest_path)
        detector_spec = _spec(models, settings.detector_id, ModelRole.DETECTOR)
        recognizer_spec = _spec(models, settings.recognizer_id, ModelRole.RECOGNIZER)

        def sessions() -> _Sessions:
            """Checked as they are loaded too: a file swapped since the pipeline was made (a
            deferred one's first use may come long after) is refused, never loaded."""
            providers = choose_providers(settings.providers)
            options = session_options(intra_op_threads=settings.intra_op_threads,
                                      intra_op_affinities=settings.intra_op_affinities)
            detector = FaceDetector(verified_model_path(detector_spec, settings.model_dir),
                                    providers=providers, options=options,
                                    sizes=settings.det_sizes, threshold=settings.det_threshold)
            embedder = FaceEmbedder(verified_model_path(recognizer_spec, settings.model_dir),
                                    model_id=recognizer_spec.id, providers=providers,
                                    options=options, batch_size=settings.embed_batch_size)
            if recognizer_spec.embedding_size not in (None, embedder.dim):
                raise ModelIntegrityError(
                    f"{recognizer_spec.id} outputs {embedder.dim} values, its manifest entry"
                    f" says {recognizer_spec.embedding_size}",
                    details={"model_id": recognizer_spec.id})
            return _Sessions(detector, embedder)

        pipeline = cls(sessions=sessions, recognizer=recognizer_spec, settings=settings,
                       models={spec.id: spec for spec in (detector_spec, recognizer_spec)})
        if deferred:  # refused now, as when loaded at once
            for spec in (detector_spec, recognizer_spec):
                verified_model_path(spec, settings.model_dir)
        else:
            pipeline.load()
        return pipeline

    def load(self) -> None:
        """Make the models' sessions now, if they are not made yet: a server's start, so that
        its first request does not wait for them."""
        self._made()

    def _made(self) -> _Sessions:
        made = self._sessions
        if made is not None:
            return made
        with self._making:
            if self._sessions is None:
                self._sessions = self._make_sessions()
            return self._sessions

    @property
    def detector(self) -> FaceDetector:
        return self._made().detector

    @property
    def embedder(self) -> FaceEmbedder:
        return self._made().embedder

    @property
    def model_id(self) -> str:
        return self._recognizer.id

    @property
    def embedding_size(self) -> int:
        """The recognizer's output size (512 for ArcFace): its manifest entry's, which the
        model's own is checked against when loaded; the model's where the entry states none."""
        return self._recognizer.embedding_size or self.embedder.dim

    @property
    def active_providers(self) -> dict[str, list[str]]:
        return {
            "detector": self.detector.active_providers,
            "recognizer": self.embedder.active_providers,
        }

    def decode(self, data: bytes) -> BgrImage:
        """Decode within the size, pixel, scan and memory limits, a bounded number at a time;
        the pixels outlive the slot, so this is for callers that bound their own memory."""
        return self._decoder.decode(data)

    def embed_single(
        self, data: bytes, *, before_decoding: Callable[[], None] | None = None
    ) -> FaceEmbedding:
        """The enrolment and probe rule: exactly one face, of sufficient quality, or a refusal.

        Refusing a second face means a bystander is never enrolled nor searched.
        ``before_decoding`` runs once the upload is admitted and its header checked, before any
        pixel is decoded (:meth:`engine.decode.Decoder.decoded`); what it raises stops there.
        """
        face, crop = self._single_crop(data, before_decoding)
        vector = self.embedder.embed_crops([crop])[0]
        return FaceEmbedding(face=face, vector=vector, model_id=self.model_id)

    def _single_crop(self, data: bytes, before_decoding: Callable[[], None] | None
                     ) -> tuple[DetectedFace, AlignedCrop]:
        with self._decoder.decoded(data, before_decoding=before_decoding) as image:
            faces = self.detector.detect(image)
            (face,) = pick_faces(faces, FacePick.SINGLE, height=image.shape[0],
                                 width=image.shape[1])
            require_quality(face, self._quality)
            return face, self.embedder.align(image, face)

    def crop_upload(self, data: bytes, pick: FacePick = FacePick.SINGLE) -> Cropped:
        """Decode, detect, choose and align one upload inside its decode slot; a refusal is
        recorded in the result, without the traceback that would keep the pixels alive."""
        try:
            with self._decoder.decoded(data) as image:
                return self.crop_image(image, pick)
        except EngineError as error:
            return Cropped(ImageResult(error=_detached(error)))

    def crop_image(self, image: BgrImage, pick: FacePick = FacePick.SINGLE) -> Cropped:
        """Detect, choose and align the faces of one decoded image."""
        result = ImageResult()
        try:
            result.faces = self.detector.detect(image)
            chosen = pick_faces(result.faces, pick, height=image.shape[0], width=image.shape[1])
        except EngineError as error:
            result.error = _detached(error)
            return Cropped(result)
        return Cropped(result, [(face, self.embedder.align(image, face)) for face in chosen])

    def embed_cropped(self, images: Sequence[Cropped]) -> list[ImageResult]:
        """Embed every crop of ``images`` with batched recognizer calls, into their results."""
        owners = [(image.result, face) for image in images for face, _ in image.crops]
        vectors = self.embedder.embed_crops([crop for image in images for _, crop in image.crops])
        for (result, face), vector in zip(owners, vectors, strict=True):
            result.embeddings.append(
                FaceEmbedding(face=face, vector=vector, model_id=self.model_id)
            )
        return [image.result for image in images]

    def embed_images(
        self, images: Sequence[BgrImage], pick: FacePick = FacePick.SINGLE
    ) -> list[ImageResult]:
        """Embed the chosen faces of many decoded images with batched recognizer calls."""
        return self.embed_cropped([self.crop_image(image, pick) for image in images])


def _detached(error: EngineError) -> EngineError:
    """``error`` without its traceback and causes: their frames would hold the image (or
    Pillow's partly decoded one) for as long as the result is kept."""
    error.__traceback__ = error.__cause__ = error.__context__ = None
    return error


def _spec(models: dict[str, ModelSpec], model_id: str, role: ModelRole) -> ModelSpec:
    spec = models.get(model_id)
    if spec is None or spec.role is not role:
        raise ModelIntegrityError(
            f"no {role} named {model_id} in the manifest", details={"model_id": model_id}
        )
    return spec
