"""Decode and check one image: accepted formats, pixel limits, orientation, RGB, downscaling, content hash.

Every image is decoded once, at import. The header is read first and the size checked against
``ImportLimits.max_pixels`` before a single pixel is decoded, so a small file that claims to be enormous
(a decompression bomb) costs nothing; with a :class:`~tlcore.data.limits.PixelBudget` the pixels to decode are
also taken from the whole import's ``ImportLimits.max_total_pixels`` first. The stored form is 8-bit RGB with EXIF orientation applied, alpha
composited on white, 16-bit values scaled (not clipped), the first frame of an animation, and the longer
side at most ``ImportLimits.max_side``. Its hash is ``sha256(f"{w}x{h}:".encode() + rgb_bytes)``.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tlcore.data.limits import ImportLimits, PixelBudget
from tlcore.errors import DatasetError

log = logging.getLogger(__name__)

ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
_FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs from cameras are JPEGs
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".mpo"}
)

# Errors Pillow's decoders raise on damaged data (besides its own UnidentifiedImageError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError)
_EXIF_ERRORS = (OSError, SyntaxError, ValueError, struct.error, KeyError, TypeError, ZeroDivisionError)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


class ImageRejected(DatasetError):
    """One file cannot be used as an image; ``reason`` is the short text the import report shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedImage:
    """A decoded, normalised image ready to store."""

    image: Image.Image  # mode RGB, final (possibly downscaled) size
    hash: str  # sha256 hex of f"{w}x{h}:" + RGB bytes
    width: int
    height: int
    original_size: tuple[int, int]  # as the file declared it (before orientation and downscaling)
    format: str  # one of ACCEPTED_FORMATS
    downscaled: bool


def image_hash(image: Image.Image) -> str:
    """Content hash of an RGB image: ``sha256(f"{w}x{h}:".encode() + rgb_bytes)`` as hex."""
    if image.mode != "RGB":
        raise ValueError(f"image_hash needs an RGB image, got mode {image.mode}")
    w, h = image.size
    digest = hashlib.sha256(f"{w}x{h}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def checked_from_rgb(image: Image.Image, fmt: str = "PNG") -> CheckedImage:
    """Wrap an already-normalised RGB image (e.g. one we drew ourselves) as a :class:`CheckedImage`."""
    w, h = image.size
    return CheckedImage(image, image_hash(image), w, h, (w, h), fmt, False)


def sniff_unsupported(head: bytes) -> str | None:
    """Name a format we refuse by its first bytes (PDF, EPS, PSD, SVG, HEIC/AVIF), before Pillow parses it."""
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"%!PS") or head.startswith(b"\xc5\xd0\xd3\xc6"):
        return "EPS"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"):
            return "HEIC"
        return None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text) or b"<!doctype svg" in text:
        return "SVG"
    return None


_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _has_image_signature(head: bytes) -> bool:
    """True when the first bytes say "I am one of the accepted formats" (so a failure to parse means damage)."""
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def check_image(
    source: str | Path | BinaryIO, limits: ImportLimits = ImportLimits(), budget: PixelBudget | None = None
) -> CheckedImage:
    """Decode one image file and normalise it, or raise :class:`ImageRejected` saying why not.

    Args:
        source: a path or a binary file object positioned at the start of the file.
        limits: pixel, side and size limits.
        budget: the decoded pixels the whole import may still spend; the image's pixels are taken from it
            before decoding (:class:`~tlcore.data.limits.PixelBudgetExceeded` when they do not fit).

    Returns:
        The normalised RGB image with its content hash.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            return _check_stream(f, limits, budget)
    return _check_stream(source, limits, budget)


def _check_stream(fp: BinaryIO, limits: ImportLimits, budget: PixelBudget | None = None) -> CheckedImage:
    head = fp.read(1024)
    fp.seek(0)
    if not head:
        raise ImageRejected("empty file")
    refused = sniff_unsupported(head)
    if refused:
        raise ImageRejected(f"unsupported format ({refused}); accepted: {', '.join(ACCEPTED_FORMATS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(fp)
        except UnidentifiedImageError:
            damaged = _has_image_signature(head)
            raise ImageRejected("corrupt or truncated image" if damaged else "not an image") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageRejected(f"image too large to decode safely ({e})") from None
        except _DECODE_ERRORS:
            raise ImageRejected("corrupt or truncated image") from None
        with opened:
            return _normalise(opened, limits, budget)


def _normalise(img: Image.Image, limits: ImportLimits, budget: PixelBudget | None = None) -> CheckedImage:
    fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "unknown")
    if fmt not in ACCEPTED_FORMATS:
        raise ImageRejected(f"unsupported format ({fmt}); accepted: {', '.join(ACCEPTED_FORMATS)}")
    w, h = img.size
    if w * h > limits.max_pixels:
        raise ImageRejected(
            f"too many pixels ({w}x{h} = {w * h / 1e6:.1f} MP, limit {limits.max_pixels / 1e6:.1f} MP); not decoded"
        )
    if min(w, h) < limits.min_side:
        raise ImageRejected(f"too small ({w}x{h} px, minimum {limits.min_side})")
    if fmt == "JPEG" and max(w, h) > 2 * limits.max_side:
        img.draft(None, (limits.max_side, limits.max_side))  # let libjpeg decode at 1/2, 1/4 or 1/8 scale
    if budget is not None:
        budget.spend(*img.size)  # what will be decoded (after the JPEG draft)
    try:
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(f"image too large to decode safely ({e})") from None
    except _DECODE_ERRORS:
        raise ImageRejected("corrupt or truncated image") from None
    frame = _apply_orientation(img)
    try:
        rgb = to_rgb(frame)
    except (ValueError, OSError) as e:
        raise ImageRejected(f"unsupported colour mode {frame.mode} ({e})") from None
    downscaled = False
    if max(rgb.size) > limits.max_side:
        rgb = downscale(rgb, limits.max_side)
        downscaled = True
    fw, fh = rgb.size
    if min(fw, fh) < limits.min_side:
        raise ImageRejected(f"too small after downscaling to {fw}x{fh} px (minimum {limits.min_side})")
    return CheckedImage(rgb, image_hash(rgb), fw, fh, (w, h), fmt, downscaled)


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a damaged EXIF block leaves the image as stored."""
    try:
        turned = ImageOps.exif_transpose(img)
    except _EXIF_ERRORS as e:
        log.info("ignoring unreadable EXIF orientation: %s", e)
        return img
    return turned if turned is not None else img


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB: alpha composited on white, 16-bit and float values scaled (not clipped), CMYK converted."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = Image.fromarray(_scale_to_uint8(np.asarray(img), mode), "L")
        return gray.convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


_SCALE_ROWS = 256  # rows converted at a time: the float copies of a block stay small whatever the image's size


def _scale_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit / 32-bit / float grey values onto 0..255 by their range, never by clipping.

    Works through the image a block of rows at a time, so the float arithmetic never holds a copy of the whole
    image: a 7000x7000 16-bit scan needs its 98 MB of pixels and the 49 MB result, not 1.6 GB of float64 copies.
    """
    if mode.startswith("I;16"):
        factor, offset = 1 / 257.0, 0.0  # 65535 -> 255
    elif mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
        factor, offset = (1 / 257.0 if arr.max() > 255 else 1.0), 0.0
    elif mode == "F" and arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
        factor, offset = 255.0, 0.0
    else:  # anything else: stretch its own range
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        factor, offset = (255.0 / (hi - lo), lo) if hi > lo else (0.0, lo)
    out = np.empty(arr.shape, dtype=np.uint8)
    for start in range(0, arr.shape[0] if arr.ndim else 1, _SCALE_ROWS):
        block = arr[start:start + _SCALE_ROWS].astype(np.float64)
        if offset:
            block -= offset
        if factor == 1 / 257.0:
            block /= 257.0  # the division itself, as before: bit for bit the same rounding
        else:
            block *= factor
        np.clip(np.rint(block, out=block), 0, 255, out=block)
        out[start:start + _SCALE_ROWS] = block
    return out


def downscale(img: Image.Image, max_side: int) -> Image.Image:
    """Shrink so the longer side is ``max_side`` (aspect kept, Lanczos); smaller images are returned as is."""
    w, h = img.size
    if max(w, h) <= max_side:
        return img
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
