"""Every kind of bad upload gets its typed refusal; every odd-but-valid image is accepted."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from optinface.engine.decode import BgrImage, decode_bytes, decode_image
from optinface.engine.errors import EngineError, ImageTooLarge, InvalidImage
from optinface.engine.jpeg_scans import MAX_JPEG_SCANS
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from tests.corpus.generate import (
    ACCEPTED,
    CorpusItem,
    build_corpus,
    large_16_bit_png,
    mpo_with_gain_map,
    scan_bomb,
    with_exif_app1,
)


@pytest.fixture(scope="module")
def corpus(portrait_images: list[BgrImage]) -> list[CorpusItem]:
    return build_corpus(
        portrait_images[0], portrait_images[1], max_bytes=EngineSettings().max_image_bytes
    )


def _outcome(pipeline: FacePipeline, data: bytes) -> str:
    try:
        pipeline.embed_single(data)
    except EngineError as error:
        return error.code
    return ACCEPTED


def test_every_corpus_item_gets_its_documented_answer(
    pipeline: FacePipeline, corpus: list[CorpusItem]
) -> None:
    outcomes = {item.name: _outcome(pipeline, item.data) for item in corpus}
    assert outcomes == {item.name: item.expected for item in corpus}


def test_the_corpus_covers_every_refusal_code(corpus: list[CorpusItem]) -> None:
    codes = {item.expected for item in corpus}
    assert codes >= {
        "invalid_image", "payload_too_large", "no_face", "multiple_faces", "low_quality", ACCEPTED
    }


@pytest.mark.parametrize("name", ["exif_rotated", *(
    f"exif_rotated_mistyped_tag_{fmt}" for fmt in ("jpeg", "png", "webp"))])
def test_exif_orientation_is_applied(
    pipeline: FacePipeline, corpus: list[CorpusItem], name: str
) -> None:
    """Also where the EXIF holds a tag of another type than Pillow's table, which Pillow's
    own transposition fails to write back (a 500 before review 25)."""
    rotated = next(item for item in corpus if item.name == name)
    upright = pipeline.decode(rotated.data)
    assert upright.shape[0] > 0
    face = pipeline.embed_single(rotated.data).face
    # Eyes above the mouth only if the decoder turned the stored sideways pixels upright.
    eyes_y = float(face.landmarks[:2, 1].mean())
    mouth_y = float(face.landmarks[3:, 1].mean())
    assert eyes_y < mouth_y


def test_a_decompression_bomb_is_refused_before_decoding(
    pipeline: FacePipeline, corpus: list[CorpusItem]
) -> None:
    bomb = next(item for item in corpus if item.name == "decompression_bomb")
    assert len(bomb.data) < 1024
    with pytest.raises(EngineError) as refused:
        pipeline.decode(bomb.data)
    assert refused.value.code == "payload_too_large"


def test_refusal_messages_carry_no_image_bytes(
    corpus: list[CorpusItem], pipeline: FacePipeline
) -> None:
    for item in corpus:
        if item.expected == ACCEPTED:
            continue
        with pytest.raises(EngineError) as refused:
            pipeline.embed_single(item.data)
        text = f"{refused.value.message} {refused.value.details}"
        assert len(text) < 300
        assert "\\x" not in text


def test_decoded_images_are_three_channel_uint8(
    pipeline: FacePipeline, corpus: list[CorpusItem]
) -> None:
    for item in corpus:
        if item.expected != ACCEPTED:
            continue
        image = pipeline.decode(item.data)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_an_image_whose_decoding_would_exceed_the_memory_limit_is_refused_from_its_header() -> None:
    data = large_16_bit_png()
    needed = decode_bytes("I;16", 6000 * 6000)
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(data, max_bytes=len(data), max_pixels=40_000_000,
                     max_decode_bytes=needed - 1, allowed_formats=["PNG"])
    assert refused.value.code == "payload_too_large"
    assert refused.value.details == {"limit_decode_bytes": needed - 1, "mode": "I;16"}


def test_an_mpo_is_decoded_as_the_jpeg_of_its_first_image(
    pipeline: FacePipeline, portrait_images: list[BgrImage]
) -> None:
    """A phone's HDR photo (MPO: the photograph, then a gain map) is the photograph alone."""
    rgb = Image.fromarray(portrait_images[0][:, :, ::-1])
    plain = io.BytesIO()
    rgb.save(plain, format="JPEG")
    mpo = mpo_with_gain_map(rgb)
    with Image.open(io.BytesIO(mpo)) as opened:
        assert (opened.format, getattr(opened, "n_frames", 1)) == ("MPO", 2)
    assert np.array_equal(pipeline.decode(mpo), pipeline.decode(plain.getvalue()))


def test_a_jpeg_with_more_scans_than_a_photograph_is_refused_before_decoding(
    pipeline: FacePipeline,
) -> None:
    """Each scan is one more pass over the pixels: 1000 of them held a 40 Mpx decode for 29 s
    (outside test). The most that is allowed still decodes; one more is refused, from 1 kB."""
    assert pipeline.decode(scan_bomb(64, 64, scans=MAX_JPEG_SCANS)).shape == (64, 64, 3)
    bomb = scan_bomb(6000, 6600, scans=MAX_JPEG_SCANS + 1)
    with pytest.raises(InvalidImage) as refused:
        pipeline.decode(bomb)
    assert refused.value.details == {"limit_scans": MAX_JPEG_SCANS}


@pytest.mark.parametrize("optimize", [False, True])
def test_a_progressive_photograph_decodes(
    pipeline: FacePipeline, portrait_images: list[BgrImage], optimize: bool
) -> None:
    rgb = Image.fromarray(portrait_images[0][:, :, ::-1])
    photo = io.BytesIO()
    rgb.save(photo, format="JPEG", progressive=True, optimize=optimize, quality=95)
    assert pipeline.embed_single(photo.getvalue()).vector.shape == (512,)


def test_the_scans_of_an_exif_thumbnail_are_not_counted(pipeline: FacePipeline) -> None:
    """A thumbnail is a JPEG inside the APP1 segment: it is skipped with the segment."""
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(photo, format="JPEG", progressive=True)
    thumbnail = scan_bomb(16, 16, scans=3 * MAX_JPEG_SCANS)
    assert pipeline.decode(with_exif_app1(photo.getvalue(), thumbnail)).shape == (64, 64, 3)


def test_pillows_warnings_about_an_upload_are_not_emitted(pipeline: FacePipeline) -> None:
    """Corrupt EXIF makes Pillow warn; the image still decodes, and nothing reaches stderr
    (a Python warning prints Pillow's source path and line)."""
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(photo, format="JPEG")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = pipeline.decode(with_exif_app1(photo.getvalue(), b"\0" * 64))
    assert image.shape == (64, 64, 3)
    assert [str(w.message) for w in caught] == []
