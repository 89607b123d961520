"""The bad-input corpus, generated (never hand-collected): every kind of upload that must get
a documented answer rather than a crash.

``build_corpus(portrait)`` returns the items in memory for the tests; run
``python -m tests.corpus.generate OUT_DIR`` to write them as files for manual probing.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from optinface.engine.decode import BgrImage
from optinface.engine.samples import encode

ACCEPTED = "accepted"  # not an error: exactly one face of good quality


@dataclass(frozen=True)
class CorpusItem:
    """One upload and the answer it must get (an error code, or ACCEPTED)."""

    name: str
    data: bytes
    expected: str
    filename: str


def build_corpus(portrait: BgrImage, other: BgrImage, *, max_bytes: int) -> list[CorpusItem]:
    """Every item of the corpus; ``portrait`` and ``other`` are two single-face images."""
    rgb = Image.fromarray(portrait[:, :, ::-1])
    jpeg = encode(portrait)
    png = encode(portrait, ".png")
    items = [
        CorpusItem("empty", b"", "invalid_image", "empty.jpg"),
        CorpusItem("random_bytes", np.random.default_rng(7).bytes(4096), "invalid_image", "r.jpg"),
        CorpusItem("text_with_image_extension", b"hello, not a face\n" * 20, "invalid_image",
                   "text.jpg"),
        CorpusItem("truncated_jpeg", jpeg[: len(jpeg) // 2], "invalid_image", "truncated.jpg"),
        CorpusItem("truncated_png", png[: len(png) // 2], "invalid_image", "truncated.png"),
        CorpusItem("corrupted_huffman_tables", _corrupt_huffman(jpeg), "invalid_image",
                   "huffman.jpg"),
        CorpusItem("one_pixel", _pil_bytes(Image.new("RGB", (1, 1), "gray"), "PNG"), "no_face",
                   "1x1.png"),
        CorpusItem("grayscale", _pil_bytes(rgb.convert("L"), "PNG"), ACCEPTED, "gray.png"),
        CorpusItem("cmyk_jpeg", _pil_bytes(rgb.convert("CMYK"), "JPEG"), ACCEPTED, "cmyk.jpg"),
        CorpusItem("png_16_bit", _png16(portrait), ACCEPTED, "16bit.png"),
        CorpusItem("png_alpha", _pil_bytes(rgb.convert("RGBA"), "PNG"), ACCEPTED, "alpha.png"),
        CorpusItem("webp", _pil_bytes(rgb, "WEBP"), ACCEPTED, "face.webp"),
        CorpusItem("animated_webp", _animated(rgb, "WEBP"), "invalid_image", "anim.webp"),
        CorpusItem("animated_gif", _animated(rgb, "GIF"), "invalid_image", "anim.gif"),
        CorpusItem("bmp_not_allowed", _pil_bytes(rgb, "BMP"), "invalid_image", "face.bmp"),
        CorpusItem("decompression_bomb", _png_header_only(30000, 30000), "payload_too_large",
                   "bomb.png"),
        # 42 Mpx: over the configured 40 Mpx, under Pillow's own guard (89 Mpx), so only our
        # limit refuses it.
        CorpusItem("pixels_over_the_limit", _png_header_only(7000, 6000), "payload_too_large",
                   "42mpx.png"),
        CorpusItem("png_16_bit_large", large_16_bit_png(), "no_face", "16bit-36mpx.png"),
        CorpusItem("over_size_limit", jpeg + b"\0" * (max_bytes + 1 - len(jpeg)),
                   "payload_too_large", "huge.jpg"),
        CorpusItem("exif_rotated", exif_rotated(rgb, "JPEG"), ACCEPTED, "rotated.jpg"),
        *(CorpusItem(f"exif_rotated_mistyped_tag_{fmt.lower()}",
                     exif_rotated(rgb, fmt, mistyped_tag=True), ACCEPTED,
                     f"rotated-mistyped.{fmt.lower()}") for fmt in ("JPEG", "PNG", "WEBP")),
        CorpusItem("no_face", _pil_bytes(_gradient(), "PNG"), "no_face", "gradient.png"),
        CorpusItem("non_face_object", encode(_shapes()), "no_face", "shapes.jpg"),
        CorpusItem("two_faces", encode(_side_by_side(portrait, other)), "multiple_faces",
                   "two.jpg"),
        CorpusItem("face_too_small", encode(_small(portrait)), "low_quality", "small.jpg"),
        *(CorpusItem(f"thin_{width}x{height}", thin_png(width, height), "no_face",
                     f"thin-{width}x{height}.png") for width, height in THIN_SHAPES),
        CorpusItem("mpo_with_gain_map", mpo_with_gain_map(rgb), ACCEPTED, "phone.jpg"),
    ]
    return items


THIN_SHAPES = ((700, 1), (1, 700), (2000, 3))
"""(width, height) of images the detector would scale to 0 px across (the last past its
largest input size), where OpenCV's resize asserted: a 500, not the ``no_face`` they hold."""


def thin_png(width: int, height: int) -> bytes:
    """A mid-gray PNG of ``width`` x ``height`` pixels (69 bytes at 700x1)."""
    return _pil_bytes(Image.new("RGB", (width, height), "gray"), "PNG")


def mpo_with_gain_map(rgb: Image.Image) -> bytes:
    """``rgb`` as a phone writes an HDR photo: an MPO, the photograph first, then a half-size
    gray map (not a picture of anyone). Pillow and ``file`` both read it as a JPEG."""
    gain_map = rgb.convert("L").resize((rgb.width // 2, rgb.height // 2)).convert("RGB")
    return _pil_bytes(rgb, "MPO", save_all=True, append_images=[gain_map])


PROGRESSIVE_GRAY_SCANS = 6
"""Scans in libjpeg's progressive script for one component (what Pillow writes for mode L)."""


def scan_bomb(width: int, height: int, *, scans: int) -> bytes:
    """A real progressive gray JPEG of ``width`` x ``height`` (mid-gray, so a few hundred bytes
    of entropy data) whose last scan is repeated until it has ``scans`` scans: each repeat is
    one more pass over every block when decoded, for about 60 bytes."""
    jpeg = _pil_bytes(Image.new("L", (width, height), 128), "JPEG", progressive=True)
    assert jpeg.endswith(b"\xff\xd9")
    last_scan = jpeg[jpeg.rfind(b"\xff\xda") : -2]  # stuffing keeps FF DA out of scan data
    return jpeg[:-2] + last_scan * (scans - PROGRESSIVE_GRAY_SCANS) + jpeg[-2:]


def with_exif_app1(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP1 Exif segment right after SOI: a TIFF header whose first IFD offset
    points past the segment (Pillow warns "Corrupt EXIF data"), then ``payload`` (a thumbnail
    JPEG is stored inside APP1 so)."""
    app1 = b"Exif\0\0II*\0" + struct.pack("<I", 0xFFFFFFF0) + payload
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def _pil_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _corrupt_huffman(jpeg: bytes) -> bytes:
    """Overwrite the code-length counts of every Huffman table (DHT segment, marker FFC4)."""
    data = bytearray(jpeg)
    position = data.find(b"\xff\xc4")
    while position != -1:
        for offset in range(position + 5, min(position + 21, len(data))):
            data[offset] = 0xFF
        position = data.find(b"\xff\xc4", position + 2)
    return bytes(data)


def _png16(portrait: BgrImage) -> bytes:
    gray16 = cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    return encode(gray16, ".png")  # OpenCV writes uint16 arrays as 16-bit PNG


def large_16_bit_png(side: int = 6000) -> bytes:
    """About 80 kB of flat 16-bit gray PNG that decodes to ``side``² pixels (36 Mpx): a
    converter working in float64 took 1 GB for it."""
    return _flat_png(side, bit_depth=16, colour_type=0, pixel=b"\x80\x00")


def large_rgba_png(side: int = 6300) -> bytes:
    """About 150 kB of flat 8-bit RGBA PNG that decodes to ``side``² pixels (39.7 Mpx, the
    mode that takes the most memory to decode): the outside test's memory flood."""
    return _flat_png(side, bit_depth=8, colour_type=6, pixel=b"\x80\x80\x80\xff")


def _flat_png(side: int, *, bit_depth: int, colour_type: int, pixel: bytes) -> bytes:
    """A ``side`` x ``side`` PNG of one ``pixel``, built row by row, never whole in memory."""
    compressor = zlib.compressobj(9)
    row = b"\0" + pixel * side  # filter byte "none", then the samples
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, bit_depth, colour_type, 0, 0, 0)
    return _png(header, pixels)


def _animated(rgb: Image.Image, fmt: str) -> bytes:
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return _pil_bytes(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


def _png_header_only(width: int, height: int) -> bytes:
    """A few hundred bytes declaring ``width`` x ``height`` pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _png(header, zlib.compress(b"\0" * 1024, 9))


def _png(header: bytes, pixels: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF
        )

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b""
    )


def exif_rotated(rgb: Image.Image, fmt: str, *, mistyped_tag: bool = False) -> bytes:
    """Pixels stored sideways with EXIF orientation 6: only a decoder that applies it sees
    an upright face. With ``mistyped_tag`` the EXIF also holds a text under GrayResponseUnit
    (0x0122), a tag Pillow's table types as a number, as a camera's odd maker data may: a
    photo that decodes, whose EXIF Pillow cannot write back (``struct.error``, review 25)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    if mistyped_tag:
        exif[0x010F] = "CAM"  # Make, a text: its entry renumbered below, its type kept
    raw = exif.tobytes()
    if mistyped_tag:
        order = "<" if raw[6:8] == b"II" else ">"
        entry = struct.pack(f"{order}HH", 0x010F, 2)
        assert raw.count(entry) == 1, raw
        raw = raw.replace(entry, struct.pack(f"{order}HH", 0x0122, 2))
    sideways = rgb.transpose(Image.Transpose.ROTATE_90)
    return _pil_bytes(sideways, fmt, exif=raw)


def _gradient() -> Image.Image:
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))
    return Image.fromarray(np.dstack([ramp, ramp.T, 255 - ramp]))


def _shapes() -> BgrImage:
    canvas = np.full((300, 300, 3), 235, dtype=np.uint8)
    cv2.rectangle(canvas, (40, 60), (150, 240), (30, 90, 200), -1)
    cv2.circle(canvas, (220, 120), 50, (40, 160, 40), -1)
    return canvas


def _side_by_side(left: BgrImage, right: BgrImage) -> BgrImage:
    height = min(left.shape[0], right.shape[0])
    return np.hstack([left[:height], right[:height]])


def _small(portrait: BgrImage) -> BgrImage:
    """The face shrunk to ~35 px inside a 250 px canvas: detectable, too small to enrol."""
    tiny = cv2.resize(portrait, (80, 80), interpolation=cv2.INTER_AREA)
    canvas = np.full((250, 250, 3), 128, dtype=np.uint8)
    canvas[85:165, 85:165] = tiny
    return canvas


def main(out_dir: str) -> None:
    """Write the corpus as files (``name.ext`` + ``expected.txt``)."""
    from optinface.engine.pipeline import FacePipeline
    from optinface.engine.samples import portraits
    from optinface.engine.settings import EngineSettings

    settings = EngineSettings()
    faces = portraits(FacePipeline.from_settings(settings).detector)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for item in build_corpus(faces[0], faces[1], max_bytes=settings.max_image_bytes):
        (folder / item.filename).write_bytes(item.data)
        lines.append(f"{item.filename}\t{item.expected}")
    (folder / "expected.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus-out")
