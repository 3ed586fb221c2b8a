"""Reading Prometheus text exposition in tests: real HTTP scrapes, parsed by
prometheus_client's own parser."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample, keyed by (sample name, its labels)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        return parse(response.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


WAIT = 20.0  # seconds scrape_until waits


def scrape_until(port: int, name: str, expected: float, **labels: str) -> Samples:
    """Scrape until ``name{labels}`` reaches ``expected`` (the server may not be up yet)."""
    deadline = time.monotonic() + WAIT
    last: Samples = {}
    while time.monotonic() < deadline:
        try:
            last = scrape(port)
        except OSError:
            pass
        else:
            if (value(last, name, **labels) or 0) >= expected:
                return last
        time.sleep(0.05)
    raise AssertionError(f"{name}{labels} did not reach {expected} within {WAIT} s; last "
                         f"value {value(last, name, **labels)}")
