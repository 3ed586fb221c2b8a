"""One virtualenv per peer under .bench-venvs/<name>/, since their pins conflict."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import ROOT, VENVS_DIR

STAMP = ".bench-requirements.json"


def ensure_venv(name: str, requirements: Sequence[str], log: Path | None = None) -> Path:
    """Create `.bench-venvs/<name>` and pip-install `requirements` unless already done."""
    path = VENVS_DIR / name
    stamp = path / STAMP
    wanted = sorted(requirements)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return path
    VENVS_DIR.mkdir(exist_ok=True)
    print(f"  creating {path.relative_to(ROOT)}: pip install {' '.join(wanted)}", flush=True)
    # The same interpreter as the project (python3 -m venv from the project's base Python).
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    out = open(log, "ab") if log else None  # noqa: SIM115
    try:
        subprocess.run(
            [str(path / "bin/pip"), "install", "-q", *wanted], check=True, stdout=out, stderr=out
        )
    finally:
        if out:
            out.close()
    stamp.write_text(json.dumps(wanted))
    return path


def package_versions(python: str, packages: Sequence[str]) -> dict[str, str | None]:
    code = (
        "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\n"
        "out = {}\nfor p in sys.argv[1:]:\n"
        "    try: out[p] = version(p)\n    except PackageNotFoundError: out[p] = None\n"
        "print(json.dumps(out))"
    )
    res = subprocess.run(
        [python, "-c", code, *packages], capture_output=True, text=True, check=True
    )
    versions: dict[str, str | None] = json.loads(res.stdout)
    return versions


def freeze(python: str) -> list[str]:
    res = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True)
    return [line for line in res.stdout.splitlines() if line and not line.startswith("-e")]
