"""Path rules every import source shares: junk no one meant to import, nested archives, wrapping folders.

Paths here are relative and ``/``-separated (a folder walk, zip entry names and upload names all use them).
"""

from __future__ import annotations

NESTED_ARCHIVE_SUFFIXES = (
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".7z", ".rar", ".zst", ".lz", ".lzma",
    ".cab", ".jar", ".iso",
)  # fmt: skip
_JUNK_WINDOWS = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini"})


def junk_reason(path: str) -> str | None:
    """Why a relative path (``/``-separated) is junk that no one meant to import, or None."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    base = parts[-1]
    if "__MACOSX" in parts or base.startswith("._") or base.lower() in (".ds_store", ".localized"):
        return "junk file (macOS metadata)"
    if base.lower() in _JUNK_WINDOWS:
        return "junk file (Windows metadata)"
    if any(p.startswith(".") for p in parts):
        return "junk file (hidden file)"
    return None


def nested_archive_reason(path: str) -> str | None:
    """A skip reason for archives inside the upload (they are never opened), or None."""
    lower = path.lower()
    if lower.endswith(NESTED_ARCHIVE_SUFFIXES):
        return "nested archive (not opened; unpack it and import its contents)"
    return None


def strip_wrapper(paths: list[str]) -> tuple[list[str], str]:
    """Remove wrapping top folders shared by every path (``data/cat/x.png`` -> ``cat/x.png``).

    A folder is only stripped while something below it is still in a folder (a class folder); files beside
    the class folders then end up outside any class. Returns the new paths and the stripped prefix ("" if none).
    """
    prefix = []
    while paths and all("/" in p for p in paths) and any(p.count("/") >= 2 for p in paths):
        first = {p.split("/", 1)[0] for p in paths}
        if len(first) != 1:
            break
        prefix.append(first.pop())
        paths = [p.split("/", 1)[1] for p in paths]
    return paths, "/".join(prefix)


def under(path: str, prefix: str) -> str | None:
    """``path`` relative to the stripped wrapper ``prefix``; None if it lies outside it."""
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None
