"""llamaprov.hub against a local fake Hub, through the real huggingface_hub client."""

from __future__ import annotations

import argparse
import filecmp
import logging
from pathlib import Path

import pytest
from _server import (
    GATED_REPO,
    KQUANT_REPO,
    PLAIN_REPO,
    PRIVATE_REPO,
    SMOL_FILE,
    SMOL_REPO,
    SPLIT_FILES,
    TINY_REPO,
    FakeHub,
)

from llamaprov import hub as lhub
from llamaprov.errors import HubError, InvalidArgumentError


def _served(fake: FakeHub, repo: str, name: str) -> Path:
    return fake.root / repo / name


def _file_gets(fake: FakeHub) -> list[tuple[str, str, str | None]]:
    return [r for r in fake.requests if r[0] == "GET" and "/resolve/" in r[1]]


def _cache_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".incomplete")]


# ---------------------------------------------------------------- names and listing


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("model-q4_k_m.gguf", "Q4_K_M"),
        ("Qwen3-8B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("m-IQ4_XS-00002-of-00004.gguf", "IQ4_XS"),
        ("sub/dir/ggml-model-f16.gguf", "F16"),
        ("llama-3-BF16.gguf", "BF16"),
        ("x-IQ2_XXS.gguf", "IQ2_XXS"),
        ("x-Q8_0.gguf", "Q8_0"),
        ("x-TQ1_0.gguf", "TQ1_0"),
        ("model.gguf", None),
        ("FQ4_0X.gguf", None),
    ],
)
def test_parse_quant(name: str, quant: str | None) -> None:
    assert lhub.parse_quant(name) == quant


def test_list_gguf_groups_split_models(hub: FakeHub) -> None:
    files = {f.filename: f for f in lhub.list_gguf(SMOL_REPO)}
    assert set(files) == {SMOL_FILE, SPLIT_FILES[0]}  # README.md is not listed
    single, split = files[SMOL_FILE], files[SPLIT_FILES[0]]
    assert (single.quant, single.split_count, single.is_split) == ("Q4_1", 1, False)
    assert single.size == _served(hub, SMOL_REPO, SMOL_FILE).stat().st_size
    assert (split.quant, split.split_count, split.parts) == ("Q4_0", 3, tuple(SPLIT_FILES))
    assert split.size == sum(_served(hub, SMOL_REPO, n).stat().st_size for n in SPLIT_FILES)


def test_list_skips_unsafe_names_from_the_server(hub: FakeHub) -> None:
    hub.extra_tree_entries[TINY_REPO] = [
        {"type": "file", "path": "../escape-Q2_K.gguf", "size": 1, "oid": "0" * 40},
    ]
    names = [f.filename for f in lhub.list_gguf(TINY_REPO)]
    assert "../escape-Q2_K.gguf" not in names
    assert "tiny-Q8_0.gguf" in names


# ---------------------------------------------------------------- choosing a file


def test_quant_picks_the_matching_file(hub: FakeHub) -> None:
    path = lhub.download(TINY_REPO, quant="iq4_xs", progress=False)
    assert path.name == "tiny-IQ4_XS.gguf"
    assert filecmp.cmp(path, _served(hub, TINY_REPO, "tiny-IQ4_XS.gguf"), shallow=False)
    assert path.is_relative_to(lhub.cache_dir())
    assert [r[1].rsplit("/", 1)[-1] for r in _file_gets(hub)] == ["tiny-IQ4_XS.gguf"]


def test_quant_several_matches_raise_with_candidates(hub: FakeHub) -> None:
    with pytest.raises(lhub.QuantSelectionError, match="pass filename=") as err:
        lhub.download(TINY_REPO, quant="Q8_0", progress=False)
    assert err.value.candidates == ["tiny-Q8_0.gguf", "tiny-v2-Q8_0.gguf"]
    assert "tiny-v2-Q8_0.gguf" in str(err.value)
    assert _file_gets(hub) == []


def test_quant_no_match_lists_what_exists(hub: FakeHub) -> None:
    with pytest.raises(lhub.QuantSelectionError, match="Q5_K_M") as err:
        lhub.download(KQUANT_REPO, quant="Q5_K_M", progress=False)
    assert set(err.value.candidates) == {"m-Q4_0.gguf", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf"}
    assert "m-Q4_K_S.gguf (Q4_K_S)" in str(err.value)


def test_default_prefers_q4_k_m_then_q4_0_then_smallest(
    hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="llamaprov.hub"):
        # Q4_K_M wins although it is the largest file of the repo.
        assert lhub.download(KQUANT_REPO, progress=False).name == "m-Q4_K_M.gguf"
        # Q4_0 (here a split model) wins over the smaller Q4_1 file.
        assert lhub.download(SMOL_REPO, progress=False).name == SPLIT_FILES[0]
        # Neither: the smallest model, never the (smaller still) mmproj companion.
        assert lhub.download(TINY_REPO, progress=False).name == "tiny-IQ4_XS.gguf"
    said = caplog.text
    assert "picked m-Q4_K_M.gguf (preferred quantization Q4_K_M)" in said
    assert "picked tiny-IQ4_XS.gguf (smallest file" in said


# ---------------------------------------------------------------- split models and loading


def test_split_download_fetches_all_parts(hub: FakeHub) -> None:
    path = lhub.download(SMOL_REPO, SPLIT_FILES[1], progress=False)  # any part names the model
    assert path.name == SPLIT_FILES[0]
    for name in SPLIT_FILES:
        local = path.parent / name
        assert filecmp.cmp(local, _served(hub, SMOL_REPO, name), shallow=False)
    got = sorted(r[1].rsplit("/", 1)[-1] for r in _file_gets(hub))
    assert got == SPLIT_FILES
    # All parts come from the commit the first part resolved to.
    commit = hub.commit(SMOL_REPO)
    assert path.parent.name == commit
    assert all(f"/resolve/{commit}/" in r[1] for r in _file_gets(hub) if "00001" not in r[1])


def test_load_model_hf_split(hub: FakeHub) -> None:
    with lhub.load_model_hf(SMOL_REPO, quant="Q4_0", progress=False) as model:
        info = model.info()
        assert (info.n_layer, info.n_vocab, info.n_embd) == (2, 320, 64)
        assert model.path.name == SPLIT_FILES[0]


def test_load_model_hf_single_file(hub: FakeHub) -> None:
    snapshot = lhub.cache_dir() / "models--llamaprov-test--SmolLM2-135M-Instruct-GGUF" / "snapshots"
    with lhub.load_model_hf(SMOL_REPO, filename=SMOL_FILE, progress=False, use_mmap=True) as model:
        assert model.info().n_vocab == 49152
        assert model.path == snapshot / hub.commit(SMOL_REPO) / SMOL_FILE
        assert model.detokenize(model.tokenize("Hello world", add_special=False)) == "Hello world"


# ---------------------------------------------------------------- cache


def test_cache_info_and_clear(hub: FakeHub) -> None:
    from huggingface_hub import hf_hub_download

    assert lhub.cache_info().repos == ()
    assert lhub.cache_clear() == 0
    lhub.download(TINY_REPO, quant="IQ4_XS", progress=False)
    lhub.download(SMOL_REPO, quant="Q4_0", progress=False)
    # A non-GGUF repo in the same cache (as transformers would leave) is not ours to list or clear.
    plain = hf_hub_download(PLAIN_REPO, "config.json", cache_dir=lhub.cache_dir(),
                            endpoint=hub.endpoint)

    info = lhub.cache_info()
    assert info.cache_dir == lhub.cache_dir()
    assert [r.repo_id for r in info.repos] == [SMOL_REPO, TINY_REPO]
    smol, tiny = info.repos
    assert [p.name for p in smol.files] == SPLIT_FILES
    split_bytes = sum(_served(hub, SMOL_REPO, n).stat().st_size for n in SPLIT_FILES)
    assert smol.size == split_bytes
    assert tiny.size == _served(hub, TINY_REPO, "tiny-IQ4_XS.gguf").stat().st_size
    assert smol.revisions == (hub.commit(SMOL_REPO),)
    assert info.n_files == 4
    assert info.total_size == smol.size + tiny.size

    assert lhub.cache_clear(TINY_REPO) == tiny.size
    assert [r.repo_id for r in lhub.cache_info().repos] == [SMOL_REPO]
    assert not tiny.path.exists()
    with pytest.raises(lhub.HubNotFoundError, match="not in the cache"):
        lhub.cache_clear(TINY_REPO)

    assert lhub.cache_clear() == split_bytes
    assert lhub.cache_info().repos == ()
    assert Path(plain).read_text().startswith("{")


# ---------------------------------------------------------------- offline


def test_offline_serves_from_cache(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    online = lhub.download(SMOL_REPO, quant="Q4_0", progress=False)
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    assert lhub.download(SMOL_REPO, quant="Q4_0", progress=False) == online
    assert lhub.download(SMOL_REPO, SPLIT_FILES[0], progress=False) == online
    listed = lhub.list_gguf(SMOL_REPO)
    assert [(f.filename, f.split_count) for f in listed] == [(SPLIT_FILES[0], 3)]
    assert hub.requests == []

    with pytest.raises(lhub.HubOfflineError, match="HF_HUB_OFFLINE"):
        lhub.download(SMOL_REPO, SMOL_FILE, progress=False)
    with pytest.raises(lhub.HubOfflineError, match="not in the cache"):
        lhub.download(TINY_REPO, progress=False)
    assert hub.requests == []


# ---------------------------------------------------------------- interrupted downloads


def test_interrupted_download_is_resumed(hub: FakeHub) -> None:
    # huggingface_hub writes in 10 MiB chunks, so cut well past the first one.
    cut = 30_000_000
    hub.drop_once[SMOL_FILE] = cut
    path = lhub.download(SMOL_REPO, SMOL_FILE, progress=False)
    assert filecmp.cmp(path, _served(hub, SMOL_REPO, SMOL_FILE), shallow=False)
    ranges = [r[2] for r in _file_gets(hub)]
    assert len(ranges) == 2 and ranges[0] is None, ranges  # one full GET cut short, then the rest
    assert ranges[1] is not None and ranges[1].startswith("bytes=") and ranges[1].endswith("-")
    assert 0 < int(ranges[1][len("bytes="):-1]) <= cut
    assert _cache_leftovers(lhub.cache_dir()) == []


def test_failed_download_leaves_no_partial_file(hub: FakeHub) -> None:
    name = "tiny-F16.gguf"
    hub.drop_once[name] = 100_000
    hub.fail_after_drop = True
    with pytest.raises(HubError, match=name):
        lhub.download(TINY_REPO, name, progress=False)
    cache = lhub.cache_dir()
    assert list(cache.rglob(name)) == []
    assert [p for p in cache.rglob("blobs/*") if p.is_file()] == []
    assert _cache_leftovers(cache) == []
    assert lhub.cache_info().repos == ()

    hub.fail_after_drop = False  # the next try starts over and completes
    path = lhub.download(TINY_REPO, name, progress=False)
    assert filecmp.cmp(path, _served(hub, TINY_REPO, name), shallow=False)


# ---------------------------------------------------------------- Hub errors


def test_missing_repo_file_and_revision(hub: FakeHub) -> None:
    with pytest.raises(lhub.HubNotFoundError, match="'llamaprov-test/nope' not found"):
        lhub.list_gguf("llamaprov-test/nope")
    with pytest.raises(lhub.HubNotFoundError, match="'llamaprov-test/nope' not found"):
        lhub.download("llamaprov-test/nope", "x-Q4_0.gguf", progress=False)
    with pytest.raises(lhub.HubNotFoundError, match=r"file 'absent-Q4_0\.gguf' not found"):
        lhub.download(TINY_REPO, "absent-Q4_0.gguf", progress=False)
    with pytest.raises(lhub.HubNotFoundError, match="revision 'v9' not found"):
        lhub.list_gguf(TINY_REPO, revision="v9")
    with pytest.raises(lhub.HubNotFoundError, match="no GGUF files"):
        lhub.download(PLAIN_REPO, progress=False)
    assert lhub.cache_info().repos == ()


def test_private_and_gated_repos(hub: FakeHub) -> None:
    with pytest.raises(lhub.HubNotFoundError, match="private"):
        lhub.list_gguf(PRIVATE_REPO)
    with pytest.raises(lhub.GatedRepoError, match="gated repository"):
        lhub.list_gguf(GATED_REPO)
    with pytest.raises(lhub.GatedRepoError, match="gated repository"):
        lhub.download(GATED_REPO, "m-Q4_0.gguf", progress=False)
    assert issubclass(lhub.GatedRepoError, HubError)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "filename",
    ["../escape.gguf", "a/../../escape.gguf", "/etc/passwd.gguf", "..\\escape.gguf", "a//b.gguf",
     "./x.gguf", "C:/x.gguf", "~/x.gguf"],
)
def test_filenames_escaping_the_cache_are_rejected(hub: FakeHub, filename: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not a plain path"):
        lhub.download(TINY_REPO, filename, progress=False)
    assert hub.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"repo_id": "no-slash"}, "owner/name"),
        ({"repo_id": "a/b/c"}, "owner/name"),
        ({"repo_id": "../etc"}, "owner/name"),
        ({"repo_id": 3}, "owner/name"),
        ({"repo_id": TINY_REPO, "quant": "Q4 K"}, "quantization name"),
        ({"repo_id": TINY_REPO, "revision": "../main"}, "revision"),
        ({"repo_id": TINY_REPO, "filename": "tiny-Q8_0.gguf", "quant": "Q8_0"}, "not both"),
    ],
)
def test_bad_arguments(hub: FakeHub, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        lhub.download(progress=False, **kwargs)  # type: ignore[arg-type]
    assert hub.requests == []


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert lhub.cache_dir() == Path.home() / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lhub.cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert lhub.cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "direct"))
    assert lhub.cache_dir() == tmp_path / "direct"


# ---------------------------------------------------------------- CLI


def _cli(*argv: str) -> int:
    from llamaprov._cli_hub import add_hub_commands

    parser = argparse.ArgumentParser(prog="llamaprov")
    add_hub_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_cli_ls_pull_cache(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("hub", "ls", SMOL_REPO) == 0
    out = capsys.readouterr().out
    assert "FILE" in out and SPLIT_FILES[0] in out and "Q4_0" in out and SMOL_FILE in out

    assert _cli("hub", "pull", TINY_REPO, "--quant", "IQ4_XS", "--quiet") == 0
    pulled = Path(capsys.readouterr().out.strip())
    assert pulled.name == "tiny-IQ4_XS.gguf" and pulled.is_file()

    assert _cli("hub", "cache") == 0
    out = capsys.readouterr().out
    assert TINY_REPO in out and "total" in out

    assert _cli("hub", "cache", "--clear", TINY_REPO) == 0
    assert "freed" in capsys.readouterr().out
    assert _cli("hub", "cache") == 0
    assert "no GGUF models cached" in capsys.readouterr().out

    with pytest.raises(lhub.QuantSelectionError):
        _cli("hub", "pull", TINY_REPO, "--quant", "Q8_0", "--quiet")


def test_cli_hf_model_options(hub: FakeHub) -> None:
    from llamaprov._cli_hub import add_hf_model_options, hf_model

    parser = argparse.ArgumentParser(prog="llamaprov chat")
    add_hf_model_options(parser)
    assert hf_model(parser.parse_args([])) is None
    chosen = hf_model(parser.parse_args(["--hf", KQUANT_REPO, "--quant", "q4_k_s"]))
    assert chosen == (KQUANT_REPO, {"quant": "q4_k_s"})
    path = lhub.download(chosen[0], **chosen[1], progress=False)
    assert path.name == "m-Q4_K_S.gguf" and path.is_file()


def test_is_repo_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lhub.is_repo_id("bartowski/SmolLM2-135M-Instruct-GGUF")
    assert not lhub.is_repo_id("model.gguf")
    assert not lhub.is_repo_id("dir/model.gguf")
    assert not lhub.is_repo_id("/abs/path")
    assert not lhub.is_repo_id(42)
    (tmp_path / "owner").mkdir()
    (tmp_path / "owner" / "name").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    assert not lhub.is_repo_id("owner/name")  # an existing local path wins
