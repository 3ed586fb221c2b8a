"""Running one page's examples, in order, in a directory of their own, against a private
Redis (``$AQUEUE_URL``), with this venv's ``python`` and ``aqueue`` first on ``PATH``."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.doc_examples import expect, signatures
from tests.doc_examples.blocks import Block, Command, Page, PageError, read_page

COMMAND_TIMEOUT = 60.0  # seconds; <!-- docs: timeout N --> for one block
BACKGROUND_WAIT = 20.0  # for a background command's expected output to appear
SLOW = 2.0  # a command that takes longer is listed in the report
STOP_TIMEOUT = 45.0  # for a background command to exit after SIGTERM at the page's end
JOBSPEC = re.compile(r"(?<![\w%])%(\d+)\b")
KILL = re.compile(r"\s*kill(?:\s+(?P<signal>-[A-Z0-9]+))?(?P<targets>(?:\s+%\d+)+)\s*")
REDIS_URL = re.compile(r"rediss?://[^\s'\"<>]+")
SHARED_REDIS = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):6379\b")


class ExampleFailed(AssertionError):
    """An example did not do what its page says."""


@dataclass
class PageReport:
    page: str
    ran: list[str] = field(default_factory=list)  # "file tasks.py", "commands :42"...
    skipped: list[str] = field(default_factory=list)  # "line 12: reason"
    slow: list[str] = field(default_factory=list)  # commands that took over SLOW seconds
    seconds: float = 0.0


@dataclass
class Background:
    number: int
    command: Command
    process: subprocess.Popen[bytes]
    log: Path
    signaled: bool = False

    def output(self) -> str:
        return self.log.read_bytes().decode("utf-8", "replace")


class PageRunner:
    def __init__(self, page: Page, workdir: Path, redis_url: str) -> None:
        self.page = page
        self.workdir = workdir
        self.report = PageReport(page.name)
        self.background: list[Background] = []
        bin_dir = Path(sys.executable).parent
        if not (bin_dir / "aqueue").exists():
            raise ExampleFailed(f"no `aqueue` command next to {sys.executable}: run the tests "
                                "with the project's venv (make test)")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AQUEUE_", "PYTHON"))}
        self.env.update(AQUEUE_URL=redis_url, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                        PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1",
                        TERM="dumb", COLUMNS="100")

    def run(self) -> PageReport:
        start = time.monotonic()
        try:
            for name in self.page.files_from:
                other = read_page(self.page.path.parent / name, name)
                for block in other.blocks:
                    if block.kind == "file":
                        self._write(block)
            for block in self.page.blocks:
                self._run_block(block)
        finally:
            self._stop_background()
            self.report.seconds = time.monotonic() - start
        return self.report

    def _run_block(self, block: Block) -> None:
        kind = block.kind
        if kind == "skip":
            self.report.skipped.append(f"line {block.line}: {block.markers['skip']}")
        elif kind == "file":
            self._write(block)
            self.report.ran.append(f"file {block.file_path()} (line {block.line})")
        elif kind == "signature":
            count = signatures.check_block(block)
            self.report.ran.append(f"{count} signature(s) (line {block.line})")
        elif kind == "commands":
            for command in block.commands():
                self._command(block, command)
            self.report.ran.append(f"commands (line {block.line})")
        elif kind == "output-of":
            self._output_of(block)
            self.report.ran.append(f"output of {block.markers['output-of']} (line {block.line})")

    # -- files -------------------------------------------------------------------------

    def _write(self, block: Block) -> None:
        path = block.file_path()
        assert path is not None
        _refuse_shared_redis(block.text, block.where)
        target = self.workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text + "\n")

    # -- commands ----------------------------------------------------------------------

    def _command(self, block: Block, command: Command) -> None:
        where = f"{block.page}:{command.line}"
        _refuse_shared_redis(command.text, where)
        text = self._jobspecs(command.text, where)
        options = block.output_options()
        timeout = float(block.markers.get("timeout") or COMMAND_TIMEOUT)
        if command.background:
            self._start_background(command, text, options, where)
            return
        started = time.monotonic()
        process = subprocess.Popen(["bash", "-c", text], cwd=self.workdir, env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            raw, _ = process.communicate(timeout=timeout)
            took = time.monotonic() - started
            if took > SLOW:
                self.report.slow.append(f"line {command.line} `{command.text}`: {took:.1f} s")
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raw, _ = process.communicate()
            self._fail(where, command, f"did not finish within {timeout:g} s", raw)
        if process.returncode != 0:
            self._fail(where, command, f"exited with status {process.returncode}", raw)
        if not expect.matches(command.expected, _text(raw), options):
            self._fail(where, command, "printed something else than the page shows", raw)

    def _start_background(self, command: Command, text: str, options: set[str],
                          where: str) -> None:
        number = len(self.background) + 1
        log = self.workdir.parent / f"{self.workdir.name}-background-{number}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(["bash", "-c", text], cwd=self.workdir, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        job = Background(number, command, process, log)
        self.background.append(job)
        if command.expected:
            self._wait_for_output(job, command.expected, options, where)

    def _wait_for_output(self, job: Background, expected: list[str], options: set[str],
                         where: str) -> None:
        wanted = expect.pattern(expected, options, prefix=True)
        deadline = time.monotonic() + BACKGROUND_WAIT
        while True:
            output = job.output()
            complete = output[:output.rfind("\n") + 1]
            if wanted.fullmatch(expect.normalize(complete)):
                return
            if job.process.poll() is not None or time.monotonic() > deadline:
                state = ("exited with status " + str(job.process.returncode)
                         if job.process.poll() is not None
                         else f"had not printed it after {BACKGROUND_WAIT:g} s")
                raise ExampleFailed(
                    f"{where}: background command %{job.number} `{job.command.text}` {state}."
                    f"\n--- expected (the beginning of its output):\n" + "\n".join(expected)
                    + f"\n--- its output:\n{output}")
            time.sleep(0.05)

    def _output_of(self, block: Block) -> None:
        spec = block.markers["output-of"]
        match = JOBSPEC.fullmatch(spec)
        if match is None:
            raise PageError(f"{block.where}: <!-- docs: output-of %N --> names a background "
                            f"command as %1, %2...; got {spec!r}")
        job = self._job(int(match[1]), block.where)
        self._wait_for_output(job, block.text.split("\n"), block.output_options(), block.where)

    def _jobspecs(self, text: str, where: str) -> str:
        """``kill -9 %1 %2``: %N is the page's Nth background command (its process group)."""
        if not JOBSPEC.search(text):
            return text
        kill = KILL.fullmatch(text)
        if kill is None:
            raise PageError(f"{where}: %N (a background command) only works as `kill [-SIGNAL] "
                            "%N...`, alone on its command line")
        groups = []
        for number in JOBSPEC.findall(kill["targets"]):
            job = self._job(int(number), where)
            job.signaled = True
            groups.append(f"-{job.process.pid}")
        return f"kill {kill['signal'] or ''} -- {' '.join(groups)}"

    def _job(self, number: int, where: str) -> Background:
        if not 1 <= number <= len(self.background):
            raise PageError(f"{where}: %{number}: the page has started "
                            f"{len(self.background)} background command(s) so far")
        return self.background[number - 1]

    def _stop_background(self) -> None:
        """SIGTERM what still runs; each must exit with status 0 unless the page signaled
        it itself."""
        problems: list[str] = []
        running = [job for job in self.background if job.process.poll() is None]
        for job in running:  # all at once: they stop side by side
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for job in self.background:
            try:
                job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(job.process)
                problems.append(f"%{job.number} `{job.command.text}` did not stop within "
                                f"{STOP_TIMEOUT:g} s of SIGTERM:\n{job.output()}")
                continue
            if job.process.returncode != 0 and not job.signaled:
                problems.append(f"%{job.number} `{job.command.text}` exited with status "
                                f"{job.process.returncode}:\n{job.output()}")
        if problems and sys.exc_info()[1] is None:
            raise ExampleFailed(f"{self.page.name}: background command(s) failed:\n"
                                + "\n".join(problems))

    def _fail(self, where: str, command: Command, what: str, raw: bytes) -> None:
        logs = "".join(f"\n--- output of background command %{job.number} so far:\n"
                       f"{job.output()}" for job in self.background)
        raise ExampleFailed(
            f"{where}: `{command.text}` {what}.\n--- the page shows:\n"
            + "\n".join(command.expected) + f"\n--- it printed:\n{_text(raw)}{logs}")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _refuse_shared_redis(text: str, where: str) -> None:
    """Examples use $AQUEUE_URL: never the Redis on the default port."""
    bad = SHARED_REDIS.search(text) or next(_default_port_urls(text), None)
    if bad:
        raise PageError(f"{where}: an example names the Redis on port 6379 ({bad[0]!r}); "
                        "examples use $AQUEUE_URL, or a closed port to show an error")


def _default_port_urls(text: str) -> Iterator[re.Match[str]]:
    for match in REDIS_URL.finditer(text):
        try:
            port = urlsplit(match[0]).port
        except ValueError:
            continue
        if port in (None, 6379):
            yield match
