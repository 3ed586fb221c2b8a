"""Build aqueue's sdist and wheel as a release would, and install the wheel in a fresh venv.

Both steps resolve packages from a wheelhouse kept next to the interpreter running the
tests (``.venv/aqueue-wheelhouse``) and never from an index: the first run, and a run after
a dependency changed, fills it with one ``pip download``; every later run is offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class InstalledVenv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def aqueue(self) -> Path:
        return self.path / "bin" / "aqueue"

    def env(self) -> dict[str, str]:
        """The environment for the venv's commands: nothing that points back at the checkout
        (PYTHONPATH, a Redis URL, the test session's venv)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "AQUEUE_URL", "VIRTUAL_ENV", "PYTHONHOME")}
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def wheelhouse(fallback: Path) -> Path:
    """The persistent wheelhouse in the venv running the tests, or ``fallback`` outside one."""
    in_venv = sys.prefix != sys.base_prefix
    path = Path(sys.prefix) / "aqueue-wheelhouse" if in_venv else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def requirements() -> list[str]:
    """What building and installing the wheel needs: the build backend and the dependencies."""
    build: list[str] = PYPROJECT["build-system"]["requires"]
    runtime: list[str] = PYPROJECT["project"]["dependencies"]
    return [*build, *runtime]


# Left by builds, editable installs and tools; the sdist must not depend on any of them.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".bench-venvs", "*.egg-info", "build",
                                    "dist", "__pycache__", ".*_cache")


def build_distributions(out_dir: Path, wheels: Path) -> Distributions:
    """``python -m build`` on a clean copy of the checkout: the sdist, then the wheel built
    from that sdist, each in an isolated build environment.

    The copy leaves out what is not source: setuptools adds every file named in an old
    ``*.egg-info/SOURCES.txt`` to the sdist, which would hide a file missing from the
    package data."""
    source = out_dir / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    _run_offline_or_fill(
        [sys.executable, "-m", "build", "--outdir", str(out_dir), str(source)], wheels,
        env=offline)
    [sdist] = out_dir.glob("*.tar.gz")
    [wheel] = out_dir.glob("*.whl")
    return Distributions(sdist=sdist, wheel=wheel)


def install_in_fresh_venv(wheel: Path, venv_dir: Path, wheels: Path) -> InstalledVenv:
    """A new venv holding the wheel and its dependencies, and nothing from the checkout.

    The venv gets no pip of its own (``--without-pip`` saves the 3-4 s of ensurepip): the
    test session's pip installs into it with ``--python``. ``--no-compile`` saves 2 s more:
    only the modules the tests import get compiled, when they first do.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], check=True)
    venv = InstalledVenv(venv_dir)
    _run_offline_or_fill(
        [sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--quiet",
         "--no-compile", "--no-index", "--find-links", str(wheels), str(wheel)], wheels)
    return venv


def _run_offline_or_fill(command: list[str], wheels: Path,
                         env: dict[str, str] | None = None) -> None:
    """Run ``command`` against the wheelhouse; if that fails, fill it and try once more."""
    first = _run(command, env)
    if first.returncode == 0:
        return
    _fill(wheels)
    second = _run(command, env)
    if second.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {second.returncode}), also with "
                           f"a fresh wheelhouse {wheels}:\n{second.stdout}\n{second.stderr}")


def _fill(wheels: Path) -> None:
    done = _run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
                 *requirements()])
    if done.returncode != 0:
        raise RuntimeError(f"cannot download the wheels the packaging tests need into "
                           f"{wheels}:\n{done.stderr}")


def _run(command: list[str], env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
