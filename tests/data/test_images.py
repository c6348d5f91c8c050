"""Decoding and checking one image: pixels of awkward modes, refusals with reasons, bombs not decoded."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from tests.data.builders import BLUE, GREEN, RED, SVG, WHITE, image_bytes, png_bomb, psd_header
from tlcore.data.images import ImageRejected, check_image, image_hash
from tlcore.data.limits import ImportLimits


def check(data: bytes, limits: ImportLimits = ImportLimits()):
    return check_image(io.BytesIO(data), limits)


def reason(data: bytes, limits: ImportLimits = ImportLimits()) -> str:
    with pytest.raises(ImageRejected) as err:
        check(data, limits)
    return err.value.reason


def encode(img: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_accepted_formats_decode_to_rgb(fmt: str) -> None:
    got = check(image_bytes(RED, (16, 12), fmt))
    assert got.format == fmt
    assert got.image.mode == "RGB" and (got.width, got.height) == (16, 12)
    r, g, b = got.image.getpixel((8, 6))
    assert r > 240 and g < 15 and b < 15


def test_hash_is_sha256_of_size_and_rgb_bytes() -> None:
    got = check(image_bytes(GREEN, (10, 9)))
    expected = hashlib.sha256(b"10x9:" + bytes(GREEN) * 90).hexdigest()
    assert got.hash == expected == image_hash(got.image)


def test_16bit_grey_is_scaled_not_clipped() -> None:
    arr = np.full((16, 16), 65535, dtype=np.uint16)
    arr[0, 0] = 0
    arr[0, 1] = 32896  # 128 * 257
    got = check(encode(Image.fromarray(arr), "PNG")).image
    assert got.getpixel((5, 5)) == WHITE
    assert got.getpixel((0, 0)) == (0, 0, 0)
    assert got.getpixel((1, 0)) == (128, 128, 128)


def test_16bit_tiff_white_stays_white() -> None:
    assert check(encode(Image.new("I;16", (16, 16), 65535), "TIFF")).image.getpixel((3, 3)) == WHITE


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_is_converted(fmt: str) -> None:
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta + yellow = red
    r, g, b = check(encode(img, fmt)).image.getpixel((8, 8))
    assert r > 240 and g < 15 and b < 15


def test_palette_with_transparency_becomes_white() -> None:
    img = Image.new("P", (16, 16), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 1)
    for fmt in ("PNG", "GIF"):
        got = check(encode(img, fmt, transparency=0)).image
        assert got.getpixel((8, 8)) == WHITE, fmt  # index 0 is transparent red -> white paper
        assert got.getpixel((0, 0)) == BLUE, fmt


def test_rgba_transparent_pixel_is_white_and_half_alpha_blends() -> None:
    img = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    img.putpixel((0, 0), (0, 255, 0, 255))
    img.putpixel((1, 0), (0, 0, 0, 128))
    got = check(encode(img, "PNG")).image
    assert got.getpixel((8, 8)) == WHITE
    assert got.getpixel((0, 0)) == GREEN
    assert all(abs(c - 127) <= 1 for c in got.getpixel((1, 0)))


def test_exif_orientation_6_rotates_the_pixels() -> None:
    img = Image.new("RGB", (20, 10), BLUE)
    img.paste(RED, (0, 0, 5, 5))  # red top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    for fmt, extra in (("PNG", {}), ("JPEG", {"quality": 95})):
        got = check(encode(img, fmt, exif=exif, **extra))
        assert (got.width, got.height) == (10, 20), fmt
        r, g, b = got.image.getpixel((8, 1))  # displayed top-right corner
        assert r > 230 and b < 25, fmt
        r, g, b = got.image.getpixel((1, 1))
        assert b > 230 and r < 25, fmt


@pytest.mark.parametrize(
    "fmt,extra", [("GIF", {"duration": 100, "loop": 0}), ("PNG", {}), ("WEBP", {"lossless": True})]
)
def test_animation_keeps_the_first_frame(fmt: str, extra: dict) -> None:
    first, second = Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), GREEN)
    data = encode(first, fmt, save_all=True, append_images=[second], **extra)
    assert check(data).image.getpixel((8, 8)) == RED


def test_large_photo_is_downscaled_once() -> None:
    got = check(image_bytes(RED, (1200, 600), "JPEG"), ImportLimits(max_side=64))
    assert (got.width, got.height) == (64, 32)
    assert got.downscaled and got.original_size == (1200, 600)


def test_not_an_image_named_jpg() -> None:
    assert reason(b"this is a text file pretending to be a photo\n" * 4) == "not an image"


def test_accepted_signature_with_garbage_is_corrupt_not_foreign() -> None:
    assert reason(b"GIF89a" + b"\x00" * 3) == "corrupt or truncated image"
    assert reason(b"\x89PNG\r\n\x1a\n" + b"garbage") == "corrupt or truncated image"


def test_empty_file() -> None:
    assert reason(b"") == "empty file"


def test_truncated_jpeg_and_png() -> None:
    jpeg = encode(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")
    png = encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    assert reason(jpeg[: len(jpeg) // 2]) == "corrupt or truncated image"
    assert reason(png[: len(png) // 2]) == "corrupt or truncated image"


def test_corrupt_png_body() -> None:
    data = bytearray(image_bytes(RED, (32, 32)))
    data[60:80] = b"\xff" * 20  # inside IDAT: CRC and zlib stream broken
    assert reason(bytes(data)) == "corrupt or truncated image"


def test_too_small() -> None:
    assert reason(image_bytes(RED, (4, 4))) == "too small (4x4 px, minimum 8)"


@pytest.mark.parametrize(
    "data,name",
    [
        (SVG, "SVG"),
        (b"%PDF-1.4\n%...\n", "PDF"),
        (psd_header(), "PSD"),
        (encode(Image.new("RGB", (16, 16), RED), "EPS"), "EPS"),
        (encode(Image.new("RGB", (16, 16), RED), "PDF"), "PDF"),
        (encode(Image.new("RGB", (16, 16), RED), "ICO"), "ICO"),
    ],
)
def test_unsupported_formats_are_named(data: bytes, name: str) -> None:
    assert reason(data).startswith(f"unsupported format ({name})")


def test_decompression_bomb_is_refused_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = png_bomb(8000, 8000)  # 64 MP: above our 50 MP limit, below Pillow's own guard
    assert len(data) < 1000
    text = reason(data)
    assert "too many pixels (8000x8000 = 64.0 MP, limit 50.0 MP)" in text and "not decoded" in text
    assert reason(png_bomb(100_000, 100_000)).startswith("image too large to decode safely")  # Pillow's guard


def test_pillow_decompression_bomb_guard_is_a_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 16x16 = 256 px > 2 * 100: DecompressionBombError
    assert reason(image_bytes(RED, (16, 16))).startswith("image too large to decode safely")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 256 > 200: the warning, treated as an error
    assert reason(image_bytes(RED, (16, 16))).startswith("image too large to decode safely")


def test_a_large_16bit_scan_is_scaled_without_float_copies_of_the_whole_image() -> None:
    import tracemalloc

    from tlcore.data.images import _scale_to_uint8

    scan = np.random.default_rng(0).integers(0, 65536, size=(3000, 3000), dtype=np.uint16)  # 18 MB of pixels
    tracemalloc.start()
    try:
        out = _scale_to_uint8(scan, "I;16")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, np.clip(np.rint(scan / 257.0), 0, 255).astype(np.uint8))
    # the 9 MB result plus a few row blocks (about 21 MB); one float64 copy of the whole scan alone is 72 MB
    assert peak < 2 * scan.nbytes, f"peak {peak / 1e6:.0f} MB while scaling a {scan.nbytes / 1e6:.0f} MB scan"


def test_every_grey_mode_scales_as_by_the_whole_image_formula() -> None:
    from tlcore.data.images import _scale_to_uint8

    rng = np.random.default_rng(1)
    cases = [(rng.integers(0, 65536, (700, 33)).astype(np.int32), "I"), (rng.random((600, 7)).astype(np.float32), "F"),
             ((rng.random((600, 7)) * 7 - 3).astype(np.float32), "F"), (np.full((5, 5), -7, np.int32), "I")]
    for arr, mode in cases:
        a = arr.astype(np.float64)
        if mode == "I" and a.min() >= 0 and a.max() <= 65535:
            want = a / 257.0
        elif mode == "F" and a.min() >= 0 and a.max() <= 1:
            want = a * 255.0
        else:
            lo, hi = a.min(), a.max()
            want = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        np.testing.assert_array_equal(_scale_to_uint8(arr, mode), np.clip(np.rint(want), 0, 255).astype(np.uint8))
