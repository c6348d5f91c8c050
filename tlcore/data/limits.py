"""Caps that keep an import safe: upload size, file count, pixels (per image and per import), compression ratio."""

from __future__ import annotations

from dataclasses import dataclass

from tlcore.errors import DatasetError

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class ImportLimits:
    """Limits checked while importing; every refusal names the field it hit and the actual figure."""

    max_total_bytes: int = 2 * GIB  # whole upload / folder / archive (uncompressed) in bytes
    max_files: int = 50_000  # files in the upload, folder or archive
    max_pixels: int = 50_000_000  # width x height of one image, checked before any pixel is decoded
    max_total_pixels: int = 20_000_000_000  # decoded width x height of all images of one import together
    max_side: int = 512  # longer side of a stored image; larger photos are downscaled once at import
    min_side: int = 8  # shorter side below this is "too small"
    max_ratio: float = 200.0  # uncompressed / compressed size of one zip entry
    ratio_check_bytes: int = 1 * MIB  # the ratio is only checked for entries at least this large uncompressed

    def __post_init__(self) -> None:
        for name in (
            "max_total_bytes", "max_files", "max_pixels", "max_total_pixels", "max_side", "min_side", "max_ratio"
        ):
            if getattr(self, name) <= 0:
                raise DatasetError(f"ImportLimits.{name} must be positive (got {getattr(self, name)})")
        if self.min_side > self.max_side:
            raise DatasetError(
                f"ImportLimits.min_side ({self.min_side}) is larger than ImportLimits.max_side ({self.max_side})"
            )
        if self.ratio_check_bytes < 0:
            raise DatasetError(f"ImportLimits.ratio_check_bytes must not be negative (got {self.ratio_check_bytes})")


class PixelBudgetExceeded(DatasetError):
    """One more image would take the decoded pixels of an import past ``ImportLimits.max_total_pixels``."""

    def __init__(self, width: int, height: int, used: int, limit: int) -> None:
        self.width, self.height, self.used, self.limit = width, height, used, limit
        super().__init__(
            f"an image of {width}x{height} px would take the decoded pixels of this import past "
            f"{human_pixels(limit)} (ImportLimits.max_total_pixels)"
        )


class PixelBudget:
    """Decoded pixels still allowed in one import (``ImportLimits.max_total_pixels``), spent before decoding."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, width: int, height: int) -> None:
        """Take ``width x height`` pixels, or raise :class:`PixelBudgetExceeded` (nothing is taken then)."""
        if self.used + width * height > self.limit:
            raise PixelBudgetExceeded(width, height, self.used, self.limit)
        self.used += width * height


def human_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``: sizes in messages people read."""
    if n < 1024:
        return f"{n} bytes"
    size = n / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def human_pixels(n: int) -> str:
    """``1_500_000`` -> ``"1.5 MP"``; below a megapixel, ``"1,280 px"``."""
    return f"{n:,} px" if n < 1_000_000 else f"{n / 1e6:,.1f} MP"


def check_totals(what: str, n_files: int, n_bytes: int, limits: ImportLimits) -> None:
    """Refuse a source (``what``, for the message) with more files or bytes than ``limits`` allow."""
    if n_files > limits.max_files:
        raise DatasetError(
            f"{what} holds {n_files:,} files; the limit is {limits.max_files:,} (ImportLimits.max_files)"
        )
    if n_bytes > limits.max_total_bytes:
        raise DatasetError(
            f"{what} holds {human_bytes(n_bytes)}; the limit is {human_bytes(limits.max_total_bytes)} "
            "(ImportLimits.max_total_bytes)"
        )
