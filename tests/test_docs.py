"""Every example in docs/*.md and README.md runs, and prints what its page shows.

The convention is in docs/CONTRIBUTING.md. Each page runs in a directory of its own
against a redis-server of its own; one test per page, named after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_examples.blocks import read_page
from tests.doc_examples.report import REPORTS
from tests.doc_examples.runner import PageRunner
from tests.redis_servers import RedisServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run_as_shown(page: str, tmp_path: Path) -> None:
    parsed = read_page(ROOT / page, page)
    server = RedisServer()
    try:
        workdir = tmp_path / "page"
        workdir.mkdir()
        runner = PageRunner(parsed, workdir, server.url)
        try:
            report = runner.run()
        finally:
            REPORTS.append(runner.report)
    finally:
        server.close()
    blocks = [b for b in parsed.blocks if b.kind != "other"]
    assert len(report.ran) + len(report.skipped) == len(blocks)


def test_index_lists_every_public_name() -> None:
    """docs/index.md's "Public API at a glance" names everything aqueue exports."""
    import aqueue

    text = (ROOT / "docs" / "index.md").read_text()
    table = text[text.index("## Public API at a glance"):]
    missing = [name for name in aqueue.__all__ if f"`{name}`" not in table
               and f"`{name}()`" not in table]
    assert not missing, f"docs/index.md's API table does not name {missing}"
