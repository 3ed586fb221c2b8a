"""A Markdown page read as its fenced blocks, each classified as the docs convention says
(docs/CONTRIBUTING.md): a file to write, commands to run, a signature to check, output of
a background command to check, skipped by a marker, or not an example at all."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

PYTHON = {"python", "py"}
SHELL = {"console", "sh", "shell", "bash", "shell-session"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*docs:\s*(?P<word>[\w-]+)\s*(?P<args>.*?)\s*-->\s*$")
FILE_LINE = re.compile(r"^#\s+(?P<path>[\w][\w./-]*\.py)\s*$")
BLOCK_MARKERS = {"skip", "signature", "output", "output-of", "timeout"}
PAGE_MARKERS = {"files-from"}
OUTPUT_OPTIONS = {"numbers", "durations"}


class PageError(Exception):
    """The page breaks the convention; the message says where and how."""


@dataclass(frozen=True)
class Command:
    line: int  # the page's line of the ``$ `` prompt
    text: str  # the command, without the prompt and the trailing ``&``
    background: bool
    expected: list[str]


@dataclass
class Block:
    page: str
    line: int  # the page's line of the opening fence
    lang: str
    text: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """file, commands, signature, output-of, skip, or other (not an example)."""
        if "skip" in self.markers:
            return "skip"
        if "signature" in self.markers:
            return "signature"
        if "output-of" in self.markers:
            return "output-of"
        if self.lang in PYTHON:
            if self.file_path() is None:
                raise PageError(
                    f"{self.where}: a python block must be a file (first line `# name.py`), "
                    "or carry a marker: <!-- docs: signature --> or <!-- docs: skip REASON -->")
            return "file"
        if self.lang in SHELL:
            return "commands"
        return "other"

    def file_path(self) -> PurePosixPath | None:
        first = self.text.split("\n", 1)[0]
        match = FILE_LINE.match(first)
        if match is None:
            return None
        path = PurePosixPath(match["path"])
        if path.is_absolute() or ".." in path.parts:
            raise PageError(f"{self.where}: {path} must be a relative path inside the page's "
                            "directory")
        return path

    def commands(self) -> list[Command]:
        commands: list[Command] = []
        lines = self.text.split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                if commands:
                    commands[-1].expected.append(line)
                elif line.strip():
                    raise PageError(f"{self.where}: text before the first `$ ` command: "
                                    f"{line!r}")
                i += 1
                continue
            start = i
            text = line[2:]
            while text.endswith("\\") and i + 1 < len(lines):  # a continued command
                i += 1
                text = text[:-1] + lines[i].lstrip()
            background = text.rstrip().endswith("&") and not text.rstrip().endswith("&&")
            if background:
                text = text.rstrip()[:-1].rstrip()
            commands.append(Command(self.line + 1 + start, text, background, []))
            i += 1
        if not commands:
            raise PageError(f"{self.where}: a {self.lang} block needs `$ ` commands, or "
                            "<!-- docs: skip REASON -->")
        for command in commands:
            while command.expected and not command.expected[-1].strip():
                command.expected.pop()
        return commands

    def output_options(self) -> set[str]:
        options = set(self.markers.get("output", "").split())
        unknown = options - OUTPUT_OPTIONS
        if unknown:
            raise PageError(f"{self.where}: unknown output option(s) {sorted(unknown)}; "
                            f"known: {sorted(OUTPUT_OPTIONS)}")
        return options


@dataclass
class Page:
    path: Path
    name: str  # as shown in test ids and reports: docs/index.md, README.md
    blocks: list[Block]
    files_from: list[str]


def read_page(path: Path, name: str) -> Page:
    lines = path.read_text().split("\n")
    blocks: list[Block] = []
    files_from: list[str] = []
    pending: dict[str, str] = {}
    pending_line = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = MARKER.match(line)
        if marker:
            word, args = marker["word"], marker["args"]
            if word in PAGE_MARKERS:
                files_from += args.split()
            elif word in BLOCK_MARKERS:
                if word == "skip" and not args:
                    raise PageError(f"{name}:{i + 1}: <!-- docs: skip --> needs a reason")
                pending[word] = args
                pending_line = i + 1
            else:
                raise PageError(f"{name}:{i + 1}: unknown marker {word!r}; known: "
                                f"{sorted(BLOCK_MARKERS | PAGE_MARKERS)}")
            i += 1
            continue
        fence = FENCE.match(line)
        if fence is None:
            if pending and line.strip():
                raise PageError(f"{name}:{pending_line}: a block marker must be directly "
                                "above a fenced block")
            i += 1
            continue
        opening, indent, open_line = fence["fence"], len(fence["indent"]), i + 1
        lang = (fence["info"].split() or [""])[0].lower()
        body: list[str] = []
        i += 1
        while i < len(lines) and not _closes(lines[i], opening):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        if i == len(lines):
            raise PageError(f"{name}:{open_line}: unclosed fence")
        blocks.append(Block(name, open_line, lang, "\n".join(body), pending))
        pending = {}
        i += 1
    if pending:
        raise PageError(f"{name}:{pending_line}: a block marker at the end of the page")
    return Page(path, name, blocks, files_from)


def _closes(line: str, opening: str) -> bool:
    stripped = line.strip()
    return (len(line) - len(line.lstrip()) <= 3 and stripped.startswith(opening)
            and set(stripped) == {opening[0]})
