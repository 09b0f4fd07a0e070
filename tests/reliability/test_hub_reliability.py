"""Hub arguments and cache contents can never lead outside the Hub cache.

Everything runs offline (``HF_HUB_OFFLINE=1``) against a cache laid out here by hand, the way
``huggingface_hub`` lays it out: ``models--owner--name/refs/<revision>`` holds a commit hash,
``snapshots/<commit>/<file>`` the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaprov import hub as lhub
from llamaprov.cli import main as cli_main
from llamaprov.errors import HubError, InvalidArgumentError

REPO = "owner/name"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILE = "m-Q4_0.gguf"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An offline Hub cache holding ``REPO`` at ``COMMIT`` (branch main, tag v1.0, PR ref)."""
    from huggingface_hub import constants

    root = tmp_path / "hf-cache"
    repo = root / "models--owner--name"
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (snap / FILE).write_bytes(b"GGUF not really")
    for ref in ("main", "v1.0", "refs/pr/1"):
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(COMMIT)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: never the real Hub
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the cache, laid out like a snapshot with a GGUF file in it."""
    evil = tmp_path / "outside" / "evil"
    evil.mkdir(parents=True)
    (evil / FILE).write_bytes(b"GGUF from outside the cache")
    (evil / "other.gguf").write_bytes(b"GGUF from outside the cache")
    return evil


def test_valid_revisions_still_work(cache: Path) -> None:
    for revision in (None, "main", "v1.0", "refs/pr/1", COMMIT):
        path = lhub.download(REPO, FILE, revision=revision, progress=False)
        assert path == cache / "models--owner--name" / "snapshots" / COMMIT / FILE
        assert [f.filename for f in lhub.list_gguf(REPO, revision=revision)] == [FILE]


def test_an_absolute_revision_is_refused(cache: Path, outside: Path) -> None:
    # the reported hole: offline, revision="/abs/path" was read as the ref file, and its content
    # ("../../../outside/evil") named the snapshot folder
    ref = outside.parent / "ref"
    ref.write_text("../../../outside/evil")
    for call in (
        lambda: lhub.download(REPO, FILE, revision=str(ref), progress=False),
        lambda: lhub.list_gguf(REPO, revision=str(ref)),
        lambda: lhub.load_model_hf(REPO, filename=FILE, revision=str(ref), progress=False),
    ):
        with pytest.raises(InvalidArgumentError, match="revision") as info:
            call()
        assert str(ref) in str(info.value)


@pytest.mark.parametrize(
    "revision",
    [
        "/etc",
        "/",
        "..",
        "../main",
        "a/../../b",
        "refs/../../x",
        "refs//pr/1",
        "main/",
        "./main",
        ".hidden",
        "refs/.x",
        "main.",
        "x.lock",
        "-main",
        "C:\\Windows",
        "C:/Windows",
        "\\\\server\\share",
        "~root",
        "ma\x00in",
        "ma\nin",
        "main ",
        " main",
        "",
        "a:b",
        "a?b",
        "a*b",
        "a[b",
        "a^b",
        "a@{1}",
        "x" * 300,
        3,
        b"main",
    ],
)
def test_bad_revisions_name_the_value(cache: Path, revision: object) -> None:
    for call in (
        lambda: lhub.download(REPO, FILE, revision=revision, progress=False),  # type: ignore[arg-type]
        lambda: lhub.list_gguf(REPO, revision=revision),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArgumentError, match="revision") as info:
            call()
        assert repr(revision)[:40] in str(info.value)


@pytest.mark.parametrize(
    "filename", ["/etc/passwd", "../x.gguf", "a/../../x.gguf", "a\x00.gguf", "a\n.gguf", "C:x.gguf"]
)
def test_bad_filenames_name_the_value(cache: Path, filename: str) -> None:
    with pytest.raises(InvalidArgumentError, match="filename") as info:
        lhub.download(REPO, filename, progress=False)
    assert repr(filename) in str(info.value)


@pytest.mark.parametrize("repo_id", ["/abs/x", "../x", "a/..", "a/b/c", "a\x00/b", "a/b\n", "..\\x/y"])
def test_bad_repo_ids_are_refused(cache: Path, repo_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="repo_id"):
        lhub.download(repo_id, FILE, progress=False)
    with pytest.raises(InvalidArgumentError, match="repo_id"):
        lhub.cache_clear(repo_id)
    assert not lhub.is_repo_id(repo_id)


def test_a_tampered_ref_is_not_followed(cache: Path, outside: Path) -> None:
    (cache / "models--owner--name" / "refs" / "main").write_text("../../../outside/evil")
    with pytest.raises(lhub.HubOfflineError):
        lhub.list_gguf(REPO)
    with pytest.raises(HubError):  # huggingface_hub follows the ref; the path it returns is refused
        lhub.download(REPO, FILE, progress=False)


def test_a_snapshot_linked_outside_the_cache_is_refused(cache: Path, outside: Path) -> None:
    other = "f" * 40
    (cache / "models--owner--name" / "snapshots" / other).symlink_to(outside, target_is_directory=True)
    (cache / "models--owner--name" / "refs" / "linked").write_text(other)
    with pytest.raises(HubError, match="outside the Hub cache"):
        lhub.list_gguf(REPO, revision="linked")
    with pytest.raises(HubError, match="outside the Hub cache"):
        lhub.download(REPO, FILE, revision="linked", progress=False)
    with pytest.raises(HubError, match="outside the Hub cache"):
        lhub.download(REPO, FILE, revision=other, progress=False)


def test_cli_reports_a_bad_revision_in_one_line(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["hub", "ls", REPO, "--revision", "/etc"]) == 1
    assert cli_main(["hub", "pull", REPO, "--file", FILE, "--revision", "../x"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("llamaprov: error: revision") for line in err)
    assert "'/etc'" in err[0] and "'../x'" in err[1]
