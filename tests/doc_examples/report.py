"""A pytest plugin (registered in tests/conftest.py): after the run, a table of what each
docs page ran and what its markers skipped."""

from __future__ import annotations

from _pytest.terminal import TerminalReporter

from tests.doc_examples.runner import PageReport

REPORTS: list[PageReport] = []


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not REPORTS:
        return
    out = terminalreporter
    out.section("docs examples")
    out.write_line(f"{'page':<34}{'ran':>5}{'skipped by marker':>19}{'seconds':>9}")
    for report in sorted(REPORTS, key=lambda r: r.page):
        out.write_line(f"{report.page:<34}{len(report.ran):>5}{len(report.skipped):>19}"
                       f"{report.seconds:>9.1f}")
        for reason in report.skipped:
            out.write_line(f"    skipped {reason}")
        for slow in report.slow:
            out.write_line(f"    slow: {slow}")
    total = sum(r.seconds for r in REPORTS)
    out.write_line(f"{len(REPORTS)} page(s), {sum(len(r.ran) for r in REPORTS)} block(s) "
                   f"ran, {sum(len(r.skipped) for r in REPORTS)} skipped by marker, "
                   f"{total:.1f} s")
