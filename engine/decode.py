"""Decoding uploads into pixels, with limits checked before any pixel is decoded.

Pillow reads the header lazily, so the format and the declared size of a decompression bomb
are refused from a few hundred bytes. Every failure becomes :class:`InvalidImage` or
:class:`ImageTooLarge`; no decoder exception escapes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from optinface.engine.errors import ImageTooLarge, InvalidImage

BgrImage = NDArray[np.uint8]
"""An H x W x 3 uint8 image in OpenCV's BGR channel order."""


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    allowed_formats: Collection[str],
) -> BgrImage:
    """Decode ``data`` into an upright BGR image.

    Animated files are refused (which frame would be the face?), EXIF orientation is applied,
    and grayscale, palette, 16-bit, CMYK and alpha images are converted to 8-bit RGB.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"upload of {len(data)} bytes exceeds the limit of {max_bytes}",
            details={"limit_bytes": max_bytes, "size_bytes": len(data)},
        )
    if not data:
        raise InvalidImage("empty upload")
    image = _open_header(data)
    fmt = image.format or "unknown"
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
    if getattr(image, "n_frames", 1) > 1:
        raise InvalidImage("animated images are not accepted")
    return _to_bgr(image)


def _open_header(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise InvalidImage("the upload is not a readable image") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge("image declares too many pixels") from error


def _to_bgr(image: Image.Image) -> BgrImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upright = ImageOps.exif_transpose(image)
            rgb = _to_rgb8(upright)
            pixels = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombWarning) as e:
        raise InvalidImage("the image data is truncated or corrupt") from e
    if pixels.ndim != 3 or pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise InvalidImage("the image has no pixels")
    return np.ascontiguousarray(pixels[:, :, ::-1])


def _to_rgb8(image: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB; 16-bit integer modes are scaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(wide.max()), 1.0)
        gray = np.clip(wide / peak * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on white: a transparent background must not turn black around the face.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")
