"""Print the module map of docs/DESIGN.md from the code: one row per module, its first docstring line.

``python scripts/module_map.py > /tmp/map.md`` and paste it between the MODULE MAP markers of docs/DESIGN.md, or
``python scripts/module_map.py --write`` to replace that part of the file in place.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "DESIGN.md"
BEGIN, END = "<!-- MODULE MAP BEGIN (python scripts/module_map.py --write) -->", "<!-- MODULE MAP END -->"
PACKAGES = ("tlcore", "ui")


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring on one line, as Markdown that fits a table cell."""
    doc = (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
    text = " ".join(doc.split("\n\n", 1)[0].split())
    text = re.sub(r":(?:mod|func|class|data|meth):`~?([^`]+)`", r"``\1``", text)
    return text.replace("``", "`").replace("|", "\\|")


def module_rows() -> list[tuple[str, int, str]]:
    """(path, lines, summary) for every module of the engine and the UI glue, in folder order."""
    rows = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            rows.append((rel, len(path.read_text().splitlines()), summary(path)))
    return rows


def render() -> str:
    lines = [BEGIN, "", "| module | lines | what it does |", "|---|---:|---|"]
    lines += [f"| `{rel}` | {n} | {text} |" for rel, n, text in module_rows()]
    return "\n".join(lines + ["", END])


def main(argv: list[str]) -> int:
    table = render()
    if "--write" not in argv:
        print(table)
        return 0
    text = DESIGN.read_text()
    if BEGIN not in text or END not in text:
        print(f"{DESIGN}: the markers {BEGIN!r} and {END!r} are missing", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    DESIGN.write_text(head + table + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
