"""Decoding uploads into pixels, with limits checked before any pixel is decoded.

Pillow reads the header lazily, so the format, the declared size of a decompression bomb and
the memory its decoding would take are refused from a few hundred bytes. The memory estimate
is the pixel count times what the header's mode stores per pixel plus what the conversion to
BGR needs (:func:`decode_bytes`); the conversions are written to stay within it (a 16-bit
image is reduced by a view on its high bytes, not through float64 copies), and
``tests/reliability/test_decode_memory.py`` measures the peak in a subprocess. Every failure
becomes :class:`InvalidImage` or :class:`ImageTooLarge`; no decoder exception escapes.

Time is bounded like memory: a JPEG's scans are counted from its marker segments before its
pixels are decoded (:mod:`engine.jpeg_scans`), since each scan is one more pass over the image.
PNG and WebP have no such multiplier: inflating or decoding their pixels is one pass whose
work is bounded by the pixel count and the upload's size (ancillary PNG text is capped by
Pillow's ``MAX_TEXT_MEMORY``, animation is refused).

Pillow's warnings about an upload (corrupt EXIF, odd metadata) are dropped: the image decodes,
and a Python warning would reach the server's stderr with Pillow's source path and line. Its
EXIF orientation is applied to the pixels alone (:func:`_upright`): Pillow's ``exif_transpose``
also rewrites the EXIF without the tag, and a tag stored with another type than Pillow's table
gives it (``struct.error``, review 25) made a readable photo a server error.

A JPEG that Pillow opens as MPO (phones append an HDR gain map, a depth map or a second view
to the photograph) is a JPEG: its first image is the photograph and the only one decoded.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image, UnidentifiedImageError

from optinface.engine.allocator import map_large_allocations
from optinface.engine.errors import EngineBusy, ImageTooLarge, InvalidImage
from optinface.engine.jpeg_scans import MAX_JPEG_SCANS, count_scans
from optinface.engine.settings import EngineSettings

BgrImage = NDArray[np.uint8]
"""An H x W x 3 uint8 image in OpenCV's BGR channel order."""


# What Pillow stores per decoded pixel, by mode (every mode not listed takes 4 bytes).
_STORED_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# On top of the decoded pixels: a converted copy (RGB, or alpha composited on white), numpy's
# copy of it with the transient one Pillow's ``tobytes`` joins, and the BGR output. Measured at
# 36 Mpx: 5.7 (16-bit gray) to 8.6 (palette) bytes per pixel; 10 keeps a margin.
WORKING_BYTES_PER_PIXEL = 10
_HIGH_BITS_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
# Formats whose first frame is the picture and the others auxiliary: the format they count as.
_PRIMARY_FRAME_FORMATS = {"MPO": "JPEG"}
_ROWS_PER_CHUNK = 256
WAITING_PER_SLOT = 4
"""Uploads that may wait for each decode slot; the rest are refused at once (EngineBusy)."""
BUSY_RETRY_SECONDS = 2
"""What a refused upload is told to wait: about one decode, detection and alignment of a
large photograph."""


class Decoder:
    """:func:`decode_image` with the engine's limits, at most ``max_concurrent_decodes`` at once,
    so the memory of all decodes together stays under that many times ``max_decode_bytes``.

    A slot is held for as long as the caller holds the full-size pixels (:meth:`decoded`), not
    just while they are decoded: detection and alignment run inside it. At most
    :data:`WAITING_PER_SLOT` uploads per slot wait for one; each waiting upload holds a server
    worker thread, so a burst beyond that is refused at once (:class:`EngineBusy`) and the other
    routes keep their threads. The bound also needs freed decode memory to leave the process,
    which glibc's per-thread arenas prevent unless told (:mod:`engine.allocator`).
    """

    def __init__(self, settings: EngineSettings) -> None:
        map_large_allocations()
        self._settings = settings
        self._slots = threading.BoundedSemaphore(settings.max_concurrent_decodes)
        self._admitted = threading.BoundedSemaphore(
            settings.max_concurrent_decodes * (1 + WAITING_PER_SLOT)
        )

    @contextmanager
    def decoded(
        self, data: bytes, *, before_decoding: Callable[[], None] | None = None
    ) -> Iterator[BgrImage]:
        """The BGR pixels of ``data``, holding a decode slot until the ``with`` block ends; the
        caller keeps no reference to them past it.

        ``before_decoding`` runs once the upload is admitted and its header has passed every
        limit, before it waits for a slot and before any pixel is decoded: a refusal before it
        (:class:`EngineBusy`, :class:`ImageTooLarge`, :class:`InvalidImage` from the header)
        has processed nothing of the face, and what it raises stops the upload there. (The
        consent core spends a single-use probe consent in it.)
        """
        if not self._admitted.acquire(blocking=False):
            raise EngineBusy(
                "too many uploads are waiting to be decoded; try again shortly",
                retry_after_seconds=BUSY_RETRY_SECONDS,
            )
        try:
            header = open_checked(
                data,
                max_bytes=self._settings.max_image_bytes,
                max_pixels=self._settings.max_image_pixels,
                max_decode_bytes=self._settings.max_decode_bytes,
                allowed_formats=self._settings.allowed_formats,
            )
            try:
                if before_decoding is not None:
                    before_decoding()
            except BaseException:
                header.close()
                raise
            with self._slots:
                yield decode_checked(header)
        finally:
            self._admitted.release()

    def decode(self, data: bytes) -> BgrImage:
        """The BGR pixels of ``data``, for a caller that keeps them: the slot is released on
        return, so their memory is the caller's to bound (tests, benchmarks)."""
        with self.decoded(data) as image:
            return image


def decode_bytes(mode: str, pixels: int) -> int:
    """The most memory decoding ``pixels`` of ``mode`` into BGR takes, known from the header."""
    return pixels * (_STORED_BYTES_PER_PIXEL.get(mode, 4) + WORKING_BYTES_PER_PIXEL)


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_decode_bytes: int,
    allowed_formats: Collection[str],
) -> BgrImage:
    """Decode ``data`` into an upright BGR image within the limits (:func:`open_checked`)."""
    return decode_checked(open_checked(data, max_bytes=max_bytes, max_pixels=max_pixels,
                                       max_decode_bytes=max_decode_bytes,
                                       allowed_formats=allowed_formats))


def open_checked(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_decode_bytes: int,
    allowed_formats: Collection[str],
) -> Image.Image:
    """``data`` opened, its header checked against every limit and no pixel decoded yet: the
    size, the format, the declared pixels, the memory their decoding would take, a JPEG's
    scans, animation (which frame would be the face?; an MPO's first image is the photograph,
    module docstring). The caller decodes it with :func:`decode_checked` or closes it."""
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"upload of {len(data)} bytes exceeds the limit of {max_bytes}",
            details={"limit_bytes": max_bytes, "size_bytes": len(data)},
        )
    if not data:
        raise InvalidImage("empty upload")
    image = _open_header(data)
    try:
        _check_header(image, data, max_pixels=max_pixels, max_decode_bytes=max_decode_bytes,
                      allowed_formats=allowed_formats)
    except BaseException:
        image.close()
        raise
    return image


def _check_header(image: Image.Image, data: bytes, *, max_pixels: int, max_decode_bytes: int,
                  allowed_formats: Collection[str]) -> None:
    fmt = _PRIMARY_FRAME_FORMATS.get(image.format or "", image.format or "unknown")
    if fmt not in allowed_formats:
        raise InvalidImage(
            f"format {fmt} is not accepted", details={"allowed": sorted(allowed_formats)}
        )
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image declares {width}x{height} pixels, over the limit of {max_pixels}",
            details={"limit_pixels": max_pixels, "width": width, "height": height},
        )
    needed = decode_bytes(image.mode, width * height)
    if needed > max_decode_bytes:
        raise ImageTooLarge(
            f"decoding this {image.mode} image would take {needed} bytes,"
            f" over the limit of {max_decode_bytes}",
            details={"limit_decode_bytes": max_decode_bytes, "mode": image.mode},
        )
    if fmt == "JPEG" and count_scans(data) > MAX_JPEG_SCANS:
        raise InvalidImage(
            f"the JPEG has more than {MAX_JPEG_SCANS} scans; a photograph has far fewer",
            details={"limit_scans": MAX_JPEG_SCANS},
        )
    if getattr(image, "n_frames", 1) > 1 and image.format not in _PRIMARY_FRAME_FORMATS:
        raise InvalidImage("animated images are not accepted")


def decode_checked(image: Image.Image) -> BgrImage:
    """The upright BGR pixels of an image :func:`open_checked` returned, which is closed: EXIF
    orientation applied; grayscale, palette, 16-bit, CMYK and alpha converted to 8-bit BGR."""
    with image:
        return _to_bgr(image)


def _open_header(data: bytes) -> Image.Image:
    try:
        with _pillow_warnings():
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise InvalidImage("the upload is not a readable image") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge("image declares too many pixels") from error


@contextmanager
def _pillow_warnings() -> Iterator[None]:
    """Pillow's warnings about the upload dropped (module docstring), its decompression-bomb
    warning raised. Only Pillow's: ``catch_warnings`` is process-wide, so a filter left behind
    by two decodes interleaving must not silence anyone else's warnings."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""What turns stored pixels upright, by EXIF orientation (TIFF 6.0's Orientation tag); 1 and
any other value: as stored."""


def _upright(image: Image.Image) -> Image.Image:
    """The pixels as the EXIF orientation says to show them: the image itself when upright,
    else a turned copy, the stored pixels then released (``close``), so that the conversion
    that follows holds one image, as the memory estimate counts. Only the pixels are turned:
    the metadata is never written back (module docstring)."""
    method = _UPRIGHT.get(image.getexif().get(ExifTags.Base.Orientation, 1))
    if method is None:
        return image
    turned = image.transpose(method)
    image.close()
    return turned


def _to_bgr(image: Image.Image) -> BgrImage:
    try:
        with _pillow_warnings():
            image.load()
            pixels = _bgr_pixels(_upright(image))
    except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombWarning) as e:
        raise InvalidImage("the image data is truncated or corrupt") from e
    if pixels.ndim != 3 or pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise InvalidImage("the image has no pixels")
    return pixels


def _bgr_pixels(image: Image.Image) -> BgrImage:
    """Any mode to 8-bit BGR, never holding more than :data:`WORKING_BYTES_PER_PIXEL` extra."""
    if image.mode in _HIGH_BITS_MODES or image.mode in ("I", "F"):
        return _gray_to_bgr(_gray8(image))
    if image.mode in ("L", "1"):
        return _gray_to_bgr(np.asarray(image.convert("L") if image.mode == "1" else image))
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    ):
        # Composite on white: a transparent background must not turn black around the face.
        # An RGBA image is its own mask: ``convert`` would copy it (4 bytes a pixel more).
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba)
        if rgba is not image:
            rgba.close()
    else:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb is not image:
        image.close()  # its pixels are in ``rgb`` now: not held through the copies below
    with rgb:
        return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def _gray8(image: Image.Image) -> NDArray[np.uint8]:
    """16- and 32-bit gray reduced to 8 bits: scaled to the range, not clipped."""
    wide = np.asarray(image)
    if image.mode in _HIGH_BITS_MODES:
        # The high byte of each 16-bit value is the value scaled to 0-255; a view, no copy.
        high = 1 if wide.dtype.byteorder == "<" or (
            wide.dtype.byteorder == "=" and np.little_endian
        ) else 0
        return wide.view(np.uint8)[:, high::2]
    peak = max(float(wide.max()), 1.0)
    gray = np.empty(wide.shape, dtype=np.uint8)
    for start in range(0, wide.shape[0], _ROWS_PER_CHUNK):  # bounded float temporaries
        rows = wide[start : start + _ROWS_PER_CHUNK].astype(np.float32) * (255.0 / peak)
        gray[start : start + _ROWS_PER_CHUNK] = np.clip(rows, 0, 255)
    return gray


def _gray_to_bgr(gray: NDArray[np.uint8]) -> BgrImage:
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
