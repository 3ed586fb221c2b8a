"""The docs harness itself (tests/doc_examples): what it accepts, and that it fails a page
whose examples do not do what the page says. No Redis: the commands here do not use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_examples import expect
from tests.doc_examples.blocks import PageError, read_page
from tests.doc_examples.runner import ExampleFailed, PageReport, PageRunner

CLOSED_PORT = "redis://127.0.0.1:1/0"


def run_page(tmp_path: Path, text: str) -> PageReport:
    page_file = tmp_path / "page.md"
    page_file.write_text(text)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return PageRunner(read_page(page_file, "page.md"), workdir, CLOSED_PORT).run()


def test_an_ellipsis_stands_for_text_on_a_line_and_a_line_of_it_for_lines() -> None:
    assert expect.matches(["start ... end", "...", "last"], "start middle end\na\nb\nlast\n")
    assert expect.matches(["a", "...", "b"], "a\nb\n")
    assert not expect.matches(["start ... end"], "start middle\n")


def test_the_same_job_id_written_twice_must_be_the_same_id() -> None:
    expected = ["job 0123456789abcdef0123456789abcdef", "again 0123456789abcdef0123456789abcdef"]
    same = "f" * 32
    assert expect.matches(expected, f"job {same}\nagain {same}\n")
    assert not expect.matches(expected, f"job {same}\nagain {'e' * 32}\n")


def test_numbers_are_literal_unless_the_block_says_otherwise() -> None:
    assert not expect.matches(["took 1.5 s for 10 jobs"], "took 2.5 s for 10 jobs\n")
    assert expect.matches(["took 1.5 s for 10 jobs"], "took 2.5 s for 10 jobs\n", {"durations"})
    assert not expect.matches(["took 1.5 s for 10 jobs"], "took 2.5 s for 9 jobs\n",
                              {"durations"})
    assert expect.matches(["took 1.5 s for 10 jobs"], "took 2.5 s for 9 jobs\n", {"numbers"})


def test_a_python_block_that_is_neither_a_file_nor_marked_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PageError, match=r"page\.md:1: a python block must be a file"):
        run_page(tmp_path, "```python\nprint('hi')\n```\n")


def test_a_skip_marker_needs_a_reason(tmp_path: Path) -> None:
    with pytest.raises(PageError, match="needs a reason"):
        run_page(tmp_path, "<!-- docs: skip -->\n```python\nx = 1\n```\n")


def test_files_are_written_and_commands_compared_with_their_output(tmp_path: Path) -> None:
    report = run_page(tmp_path, "```python\n# hello.py\nprint('hello')\n```\n\n"
                                "<!-- docs: skip a fragment -->\n```python\nx = 1\n```\n\n"
                                "```console\n$ python hello.py\nhello\n```\n")
    assert len(report.ran) == 2
    assert report.skipped == ["line 7: a fragment"]


def test_a_command_that_prints_something_else_fails_the_page(tmp_path: Path) -> None:
    with pytest.raises(ExampleFailed, match="printed something else than the page shows"):
        run_page(tmp_path, "```console\n$ echo goodbye\nhello\n```\n")


def test_a_command_that_exits_non_zero_fails_the_page(tmp_path: Path) -> None:
    with pytest.raises(ExampleFailed, match="exited with status 3"):
        run_page(tmp_path, "```console\n$ exit 3\n```\n")


def test_a_background_command_is_waited_for_and_stopped_at_the_end(tmp_path: Path) -> None:
    server = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
              "print('ready', flush=True); time.sleep(60)")
    report = run_page(tmp_path, f'```console\n$ python -c "{server}" &\nready\n'
                                "$ echo next\nnext\n```\n")
    assert report.ran == ["commands (line 1)"]


def test_a_background_command_that_failed_fails_the_page(tmp_path: Path) -> None:
    with pytest.raises(ExampleFailed, match="exited with status 1"):
        run_page(tmp_path, "```console\n$ python -c 'raise SystemExit(1)' &\n$ sleep 0.3\n```\n")


def test_kill_with_a_jobspec_signals_that_background_command(tmp_path: Path) -> None:
    run_page(tmp_path, "```console\n$ sleep 60 &\n$ kill -9 %1\n```\n")


def test_an_example_naming_the_redis_on_6379_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PageError, match="port 6379"):
        run_page(tmp_path, "```console\n$ aqueue info --url redis://127.0.0.1:6379/0\n```\n")
    with pytest.raises(PageError, match="port 6379"):
        run_page(tmp_path, "```python\n# x.py\nURL = 'redis://localhost/0'\n```\n")


def test_a_documented_signature_must_be_the_real_one(tmp_path: Path) -> None:
    run_page(tmp_path, "<!-- docs: signature -->\n```python\n"
                       "Retry(max, interval=0.0, backoff=None, max_interval=None, jitter=False)\n"
                       "```\n")
    with pytest.raises(PageError, match="the documented signature of Retry is not the real"):
        run_page(tmp_path, "<!-- docs: signature -->\n```python\nRetry(max, interval=1.0)\n```\n")
