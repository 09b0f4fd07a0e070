"""The distributions: ``python -m build`` makes an sdist and a wheel that install and import.

Built with ``--no-isolation`` (the backend, hatchling, is a dev dependency), so nothing is
downloaded; the wheel is installed with ``--no-deps --no-index`` into a fresh virtual environment
that sees this interpreter's packages, and imported from outside the source tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = ROOT / "llamaprov" / "_version.py"


def project_version() -> str:
    """The version written in llamaprov/_version.py, read as text (not through an import)."""
    match = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(encoding="utf-8"), re.M)
    assert match, f"no __version__ line in {VERSION_FILE}"
    return match.group(1)


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH, so that only the installed wheel can be imported."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=180, cwd=out,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_file_names_carry_the_project_version(dists: dict[str, Path]) -> None:
    version = project_version()
    assert dists["wheel"].name == f"llamaprov-{version}-py3-none-any.whl"
    assert dists["sdist"].name == f"llamaprov-{version}.tar.gz"


def test_wheel_contents(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"llamaprov-{project_version()}.dist-info/METADATA").decode()
    assert "llamaprov/py.typed" in names
    bundled = sorted(p.name for p in (ROOT / "llamaprov" / "grammars").glob("*.gbnf"))
    assert bundled, "no .gbnf files in the source tree"
    assert sorted(Path(n).name for n in names if n.endswith(".gbnf")) == bundled
    tops = {n.split("/")[0] for n in names}
    assert tops == {"llamaprov", f"llamaprov-{project_version()}.dist-info"}, tops
    assert not [n for n in names if "/tests/" in n or "/bench/" in n or "__pycache__" in n]
    assert re.search(rf"^Version: {re.escape(project_version())}$", metadata, re.M)
    assert re.search(r"^License-Expression: MIT$", metadata, re.M)


def test_sdist_holds_what_a_source_install_tests_need(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        members = sdist.getmembers()
    prefix = f"llamaprov-{project_version()}/"
    names = {m.name.removeprefix(prefix) for m in members}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "mkdocs.yml",
                   "llamaprov/py.typed", "llamaprov/_version.py", "tests/conftest.py",
                   "bench/maskbench.py", "docs/index.md"):
        assert needed in names, needed
    assert any(n.startswith("tests/data/chat_templates/") for n in names)
    assert any(n.startswith("examples/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.startswith((".git/", ".ci/"))]
    # nothing large slipped in (the biggest test data file is a chat template of ~40 KB)
    biggest = max(members, key=lambda m: m.size)
    assert biggest.size < 1_000_000, (biggest.name, biggest.size)


def test_wheel_installs_and_runs_outside_the_source_tree(dists: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # the venv sees this interpreter's packages (llama-cpp-python, numpy, ...) and pip
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=60)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = clean_env()
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                              cwd=work, env=env)

    proc = run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", "-q",
               dists["wheel"])
    assert proc.returncode == 0, proc.stdout + proc.stderr

    proc = run(python, "-c", "import llamaprov, sys; print(llamaprov.__version__); print(llamaprov.__file__)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    version, where = proc.stdout.split()[-2:]
    assert version == project_version()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where  # the wheel, not the checkout

    proc = run(python, "-c", "import llamaprov.grammars as g; print(sorted(g.available()))")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "json" in proc.stdout

    # the console script: `llamaprov --version` where the CLI has it, else the module's --help
    script = bindir / "llamaprov"
    assert script.exists()
    helped = run(script, "--help")
    assert helped.returncode == 0, helped.stderr[-3000:]
    if "--version" in helped.stdout:
        proc = run(script, "--version")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert project_version() in proc.stdout + proc.stderr
    else:
        proc = run(python, "-m", "llamaprov.cli", "--help")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "usage" in proc.stdout.lower()
