"""Expected output, as written in the docs, turned into a pattern.

- ``...`` inside a line stands for any text on that line; a line that is only ``...``
  stands for any number of lines (none included).
- A 32-hex-digit job id stands for any such id; the same id written twice must be the same
  id both times. A log timestamp (``2026-11-24 11:40:02,101``) or a time of day
  (``11:43:13``) stands for any.
- With ``<!-- docs: output numbers -->`` every number stands for any number; with
  ``durations``, only a number followed by ``s`` or ``ms`` does.
"""

from __future__ import annotations

import re
from collections.abc import Collection

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
TOKENS = {
    "ellipsis": r"\.\.\.",
    "timestamp": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}|(?<!\d)\d\d:\d\d:\d\d(?!\d)",
    "id": r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])",
    "duration": NUMBER + r"(?P<unit> ?m?s\b)",
    "number": r"(?<![\w.])" + NUMBER,
}


def normalize(output: str) -> str:
    """The text as compared: no colour codes, no trailing spaces or blank lines."""
    text = ANSI.sub("", output).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def pattern(expected: list[str], options: Collection[str] = (), *, prefix: bool = False
            ) -> re.Pattern[str]:
    """A pattern for the whole output, or (``prefix``) for how it begins."""
    names = ["ellipsis", "timestamp", "id"]
    if "numbers" in options:
        names.append("number")
    elif "durations" in options:
        names.append("duration")
    token = re.compile("|".join(f"(?P<{n}>{TOKENS[n]})" for n in names))
    ids: dict[str, str] = {}
    parts: list[str] = []
    for line in expected:
        line = line.rstrip()
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        pieces: list[str] = []
        last = 0
        for match in token.finditer(line):
            pieces.append(re.escape(line[last:match.start()]))
            last = match.end()
            kind = match.lastgroup
            if kind == "ellipsis":
                pieces.append(r"[^\n]*?")
            elif kind == "timestamp":
                pieces.append(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}" if " " in match[0]
                              else r"\d\d:\d\d:\d\d")
            elif kind == "id":
                if match[0] in ids:
                    pieces.append(f"(?P={ids[match[0]]})")
                else:
                    ids[match[0]] = f"id{len(ids)}"
                    pieces.append(f"(?P<{ids[match[0]]}>[0-9a-f]{{32}})")
            elif kind == "number":
                pieces.append(NUMBER)
            else:  # duration
                pieces.append(NUMBER + re.escape(match["unit"]))
        pieces.append(re.escape(line[last:]))
        parts.append("".join(pieces) + r"\n")
    return re.compile("".join(parts) + (r"[\s\S]*" if prefix else ""))


def matches(expected: list[str], output: str, options: Collection[str] = (), *,
            prefix: bool = False) -> bool:
    return pattern(expected, options, prefix=prefix).fullmatch(normalize(output)) is not None
