"""The engine as a user sees it: faces found, the same person scores high, strangers low."""

from __future__ import annotations

import numpy as np
import pytest

from optinface.engine.decode import BgrImage
from optinface.engine.errors import MultipleFaces, NoFace
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import Variant, encode, group_photo, variant
from optinface.engine.types import FacePick
from tests.corpus.generate import THIN_SHAPES


def _embed(pipeline: FacePipeline, image: BgrImage) -> np.ndarray:
    return pipeline.embed_single(encode(image)).vector


def test_six_faces_are_found_in_the_bundled_group_photo(pipeline: FacePipeline) -> None:
    faces = pipeline.detector.detect(group_photo())
    assert len(faces) == 6
    assert all(face.score > 0.8 for face in faces)
    assert all(face.landmarks.shape == (5, 2) for face in faces)


def test_embeddings_are_512_d_unit_vectors_tagged_with_the_model(
    pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    result = pipeline.embed_single(portrait_jpegs[0])
    assert result.vector.shape == (512,)
    assert result.vector.dtype == np.float32
    assert abs(float(np.linalg.norm(result.vector)) - 1.0) < 1e-5
    assert result.model_id == "w600k_mbf"


@pytest.mark.parametrize("kind", list(Variant))
def test_same_person_across_changes_scores_above_0_8(
    pipeline: FacePipeline, portrait_images: list[BgrImage], kind: Variant
) -> None:
    for portrait in portrait_images:
        similarity = float(_embed(pipeline, portrait) @ _embed(pipeline, variant(portrait, kind)))
        assert similarity > 0.8, f"{kind}: {similarity:.3f}"


def test_different_people_score_below_0_4(
    pipeline: FacePipeline, portrait_images: list[BgrImage]
) -> None:
    vectors = np.stack([_embed(pipeline, image) for image in portrait_images])
    similarities = vectors @ vectors.T
    strangers = similarities[~np.eye(len(vectors), dtype=bool)]
    assert strangers.max() < 0.4


def test_a_group_photo_is_refused_for_enrolment(pipeline: FacePipeline) -> None:
    with pytest.raises(MultipleFaces) as refused:
        pipeline.embed_single(encode(group_photo()))
    assert refused.value.code == "multiple_faces"
    assert refused.value.details == {"faces": 6}


def test_batch_path_matches_the_single_path(
    pipeline: FacePipeline, portrait_images: list[BgrImage]
) -> None:
    uploads = [encode(image) for image in portrait_images]
    batch = pipeline.embed_images([pipeline.decode(upload) for upload in uploads])
    for upload, result in zip(uploads, batch, strict=True):
        assert result.error is None and len(result.embeddings) == 1
        single = pipeline.embed_single(upload).vector
        assert float(result.embeddings[0].vector @ single) > 0.9999


def test_batch_path_reports_each_bad_image_and_keeps_the_rest(
    pipeline: FacePipeline, portrait_images: list[BgrImage]
) -> None:
    blank = np.full((200, 200, 3), 127, dtype=np.uint8)
    results = pipeline.embed_images([portrait_images[0], blank, group_photo()])
    assert len(results[0].embeddings) == 1
    assert isinstance(results[1].error, NoFace)
    assert isinstance(results[2].error, MultipleFaces)


def test_an_image_the_detector_would_scale_to_no_pixels_holds_no_face(
    pipeline: FacePipeline, portrait_images: list[BgrImage]
) -> None:
    """700x1 scales to 640x0 (and 2000x3, past the largest size, to 640x0): OpenCV asserted."""
    thin = [np.full((height, width, 3), 127, dtype=np.uint8) for width, height in THIN_SHAPES]
    assert all(pipeline.detector.detect(image) == [] for image in thin)
    results = pipeline.embed_images([*thin, portrait_images[0]])
    assert all(isinstance(result.error, NoFace) for result in results[:-1])
    assert len(results[-1].embeddings) == 1


@pytest.mark.parametrize(
    ("pick", "expected"), [(FacePick.ALL, 6), (FacePick.LARGEST, 1), (FacePick.CENTER, 1)]
)
def test_pick_policies_choose_the_faces_they_name(
    pipeline: FacePipeline, pick: FacePick, expected: int
) -> None:
    photo = group_photo()
    (result,) = pipeline.embed_images([photo], pick)
    assert len(result.embeddings) == expected
    if pick is FacePick.LARGEST:
        largest = max(result.faces, key=lambda f: f.width * f.height)
        assert result.embeddings[0].face == largest
    if pick is FacePick.CENTER:
        centre_x = photo.shape[1] / 2
        chosen = result.embeddings[0].face
        assert all(
            abs((chosen.box[0] + chosen.box[2]) / 2 - centre_x)
            <= abs((f.box[0] + f.box[2]) / 2 - centre_x) + 1e-6
            for f in result.faces
        )


def test_detector_input_size_adapts_to_the_image(pipeline: FacePipeline) -> None:
    assert pipeline.detector.input_size_for(250, 250) == 256
    assert pipeline.detector.input_size_for(100, 120) == 160
    assert pipeline.detector.input_size_for(886, 1280) == 640


def test_active_providers_are_reported(pipeline: FacePipeline) -> None:
    providers = pipeline.active_providers
    assert providers["detector"] and providers["recognizer"]
    assert providers["recognizer"][-1] == "CPUExecutionProvider"
