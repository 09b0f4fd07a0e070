"""Hugging Face Hub: list, download, cache and load GGUF models.

Built on ``huggingface_hub``, so downloads land in the cache it shares with transformers
(``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``). The environment
(``HF_HUB_CACHE``, ``HF_HOME``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``) is read at each call, not
at import, and passed to ``huggingface_hub`` explicitly.

A split GGUF (``name-00001-of-00003.gguf`` ...) counts as one model: it is listed once, all of
its parts are downloaded into one snapshot folder, and the path of the first part is returned,
which is what llama.cpp loads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from llamaprov.errors import HubError, InvalidArgumentError, LlamaProvError, describe

if TYPE_CHECKING:
    from llamaprov.engine import Model

__all__ = [
    "CacheInfo",
    "CachedModelRepo",
    "GGUFFile",
    "GatedRepoError",
    "HubNotFoundError",
    "HubOfflineError",
    "QuantSelectionError",
    "cache_clear",
    "cache_dir",
    "cache_info",
    "download",
    "is_repo_id",
    "list_gguf",
    "load_model_hf",
    "parse_quant",
]

logger = logging.getLogger(__name__)


class HubNotFoundError(HubError):
    """The repository, revision or file does not exist on the Hub (or is private)."""


class GatedRepoError(HubError):
    """The repository is gated: accept its conditions on the Hub and log in (``HF_TOKEN``)."""


class HubOfflineError(HubError):
    """Offline (``HF_HUB_OFFLINE=1`` or no connection) and the file is not in the cache."""


class QuantSelectionError(HubError):
    """``quant=`` matched no GGUF model or several; ``candidates`` lists the file names."""

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


# Order of preference when the caller names neither a file nor a quantization.
_PREFERRED_QUANTS = ("Q4_K_M", "Q4_0")

_QUANT_RE = re.compile(
    r"(?<![A-Za-z0-9])("
    r"(?:UD-)?(?:I?Q\d_K(?:_[A-Z]{1,2})?|IQ\d_(?:XXS|XS|S|M|NL)|TQ\d_\d|Q\d_\d(?:_\d_\d)?|Q\d_K)"
    r"|BF16|F16|F32|F64|MXFP4(?:_MOE)?"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
# what git forbids in a ref name (git check-ref-format): control characters, space, ~ ^ : ? * [ \,
# "..", "//" and "@{"; revisions name folders in the cache, so these rules also keep them inside it
_BAD_REVISION_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|//|@\{")
_TRUE = {"1", "on", "yes", "true"}


# ---------------------------------------------------------------- data types


@dataclass(frozen=True)
class GGUFFile:
    """One GGUF model in a Hub repository (a single file, or all parts of a split model).

    ``filename`` is the path in the repository (the first part for a split model), ``size`` the
    number of bytes of all parts together, ``quant`` the quantization parsed from the name
    (``"Q4_K_M"``, ``"F16"`` ...; ``None`` when the name has none).
    """

    filename: str
    size: int
    quant: str | None
    split_count: int = 1
    parts: tuple[str, ...] = ()

    @property
    def is_split(self) -> bool:
        """Whether the model is stored in several files."""
        return self.split_count > 1


@dataclass(frozen=True)
class CachedModelRepo:
    """A model repository in the local cache: its GGUF files (local paths) and bytes on disk."""

    repo_id: str
    path: Path
    size: int
    revisions: tuple[str, ...]
    files: tuple[Path, ...]


@dataclass(frozen=True)
class CacheInfo:
    """The GGUF model repositories in the cache and their total size on disk."""

    cache_dir: Path
    repos: tuple[CachedModelRepo, ...]

    @property
    def total_size(self) -> int:
        """Bytes on disk of all listed repositories."""
        return sum(r.size for r in self.repos)

    @property
    def n_files(self) -> int:
        """Number of cached GGUF files (each part of a split model counts)."""
        return sum(len(r.files) for r in self.repos)


# ---------------------------------------------------------------- environment


def _env_path(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return os.path.expanduser(os.path.expandvars(value))
    return None


def cache_dir() -> Path:
    """The Hub cache folder shared with ``huggingface_hub`` and transformers (read from env now)."""
    explicit = _env_path("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit)
    home = _env_path("HF_HOME")
    if home is None:
        xdg = _env_path("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(xdg, "huggingface")
    return Path(home) / "hub"


def _endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(f.strip().lower() in _TRUE for f in flags) or bool(constants.HF_HUB_OFFLINE)


# ---------------------------------------------------------------- validation and names


def _check_repo_id(repo_id: object) -> str:
    if (
        not isinstance(repo_id, str)
        or not _REPO_ID_RE.fullmatch(repo_id)  # match's $ would let a trailing newline through
        or ".." in repo_id
        or "--" in repo_id
        or repo_id.endswith(".git")
    ):
        raise InvalidArgumentError(
            "repo_id must look like 'owner/name' (letters, digits, '-', '_', '.'), "
            f"got {describe(repo_id)}"
        )
    return repo_id


def _check_revision(revision: object) -> str | None:
    """A branch, tag, ``refs/...`` name or commit hash, by git's ref-name rules: never an absolute
    path, ``..``, an empty or dot-led segment, or a control character."""
    if revision is None:
        return None
    if (
        not isinstance(revision, str)
        or not revision
        or len(revision) > 255
        or _BAD_REVISION_RE.search(revision)
        or revision.startswith(("/", "-"))
        or revision.endswith(("/", ".lock"))
        or any(not part or part.startswith(".") or part.endswith(".") for part in revision.split("/"))
    ):
        raise InvalidArgumentError(
            "revision must be a branch, tag or commit hash (a git ref name: no absolute path, "
            f"'..', empty segment, space or control character), got {describe(revision)}"
        )
    return revision


def _check_filename(filename: object) -> str:
    """A repository-relative POSIX path that cannot escape the snapshot folder."""
    if not isinstance(filename, str) or not filename:
        raise InvalidArgumentError(f"filename must be a non-empty string, got {describe(filename)}")
    parts = PurePosixPath(filename).parts
    if (
        filename.startswith(("/", "~"))
        or "\\" in filename
        or re.search(r"[\x00-\x1f\x7f]", filename)
        or re.match(r"^[A-Za-z]:", filename)
        or any(p in ("..", ".", "") for p in filename.split("/"))
        or not parts
    ):
        raise InvalidArgumentError(
            f"filename {describe(filename)} is not a plain path inside the repository "
            "(no '..', no absolute path, no control character)"
        )
    return filename


def _inside_cache(path: Path, *, resolve: bool = True) -> Path:
    """``path`` if it lies inside the Hub cache, written out and (with ``resolve``) with symbolic
    links followed; else :class:`HubError`. The last line of defence: arguments are checked first."""
    root = cache_dir()
    spelled = os.path.normpath(os.path.abspath(path))
    spelled_root = os.path.normpath(os.path.abspath(root))
    inside = os.path.commonpath([spelled, spelled_root]) == spelled_root
    if inside and resolve:
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        inside = os.path.commonpath([real, real_root]) == real_root
    if not inside:
        raise HubError(f"{str(path)!r} lies outside the Hub cache {str(root)!r}; refusing to use it")
    return path


def _check_quant(quant: object) -> str | None:
    if quant is None:
        return None
    if not isinstance(quant, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", quant):
        raise InvalidArgumentError(
            f"quant must be a quantization name like 'Q4_K_M', got {describe(quant)}"
        )
    return quant.upper()


def is_repo_id(value: object) -> bool:
    """Whether ``value`` reads as a Hub repository id (``owner/name``) rather than a local path.

    A string naming an existing file or folder, or ending in ``.gguf``, is a path.
    """
    if not isinstance(value, str) or value.lower().endswith(".gguf") or os.path.exists(value):
        return False
    try:
        _check_repo_id(value)
    except InvalidArgumentError:
        return False
    return True


def parse_quant(filename: str) -> str | None:
    """The quantization named in a GGUF file name, upper case (``"Q4_K_M"``, ``"F16"`` ...)."""
    name = PurePosixPath(filename).name
    split = _SPLIT_RE.match(name)
    stem = split.group("prefix") if split else re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    found = _QUANT_RE.findall(stem)
    return found[-1].upper() if found else None


def _group(entries: Iterable[tuple[str, int]]) -> list[GGUFFile]:
    """Group ``(path, size)`` entries of ``.gguf`` files into models (split parts together)."""
    singles: list[GGUFFile] = []
    splits: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}
    for path, size in entries:
        if not path.lower().endswith(".gguf"):
            continue
        try:
            _check_filename(path)
        except InvalidArgumentError:
            logger.warning("ignoring Hub file with an unsafe name: %r", path)
            continue
        m = _SPLIT_RE.match(path)
        if m and int(m.group("count")) > 1:
            key = (m.group("prefix"), int(m.group("count")))
            splits.setdefault(key, {})[int(m.group("no"))] = (path, size)
        else:
            singles.append(GGUFFile(path, size, parse_quant(path), 1, (path,)))
    models = list(singles)
    for (prefix, count), found in splits.items():
        parts = tuple(f"{prefix}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1))
        if set(found) != set(range(1, count + 1)):
            logger.warning("split model %s lists parts %s of %d", prefix, sorted(found), count)
        first = found.get(1, (parts[0], 0))[0]
        size = sum(s for _, s in found.values())
        models.append(GGUFFile(first, size, parse_quant(first), count, parts))
    return sorted(models, key=lambda f: f.filename)


def _select(files: list[GGUFFile], quant: str | None, repo_id: str) -> GGUFFile:
    if not files:
        raise HubNotFoundError(f"repository {repo_id!r} has no GGUF files")
    names = [f.filename for f in files]
    if quant is not None:
        matches = [f for f in files if f.quant == quant]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise QuantSelectionError(
                f"no GGUF file in {repo_id!r} has quantization {quant!r}; candidates: "
                + ", ".join(f"{f.filename} ({f.quant or '?'})" for f in files),
                candidates=names,
            )
        raise QuantSelectionError(
            f"{len(matches)} GGUF files in {repo_id!r} have quantization {quant!r}; "
            f"pass filename= one of: " + ", ".join(f.filename for f in matches),
            candidates=[f.filename for f in matches],
        )
    # Vision projectors (mmproj) are companions, never the model to pick by default.
    models = [f for f in files if "mmproj" not in PurePosixPath(f.filename).name.lower()] or files
    for preferred in _PREFERRED_QUANTS:
        matches = sorted((f for f in models if f.quant == preferred), key=lambda f: f.size)
        if matches:
            chosen, reason = matches[0], f"preferred quantization {preferred}"
            break
    else:
        chosen = min(models, key=lambda f: (f.size, f.filename))
        reason = "smallest file (no Q4_K_M or Q4_0)"
    logger.info(
        "%s: picked %s (%s) out of %d GGUF models", repo_id, chosen.filename, reason, len(files)
    )
    return chosen


# ---------------------------------------------------------------- errors from huggingface_hub


@contextlib.contextmanager
def _translate_errors(
    repo_id: str, revision: str | None, filename: str | None = None
) -> Iterator[None]:
    """Turn ``huggingface_hub``/HTTP errors into llamaprov errors naming the repo and file."""
    from huggingface_hub import errors as hf

    repo = repo_id + (f"@{revision}" if revision else "")
    where = repo + (f" file {filename!r}" if filename else "")
    try:
        yield
    except hf.GatedRepoError as e:
        raise GatedRepoError(
            f"{repo_id!r} is a gated repository: accept its conditions on the Hub, then log in "
            f"(`hf auth login` or HF_TOKEN) (HTTP {_status(e)})"
        ) from e
    except hf.RepositoryNotFoundError as e:
        raise HubNotFoundError(
            f"repository {repo_id!r} not found, or it is private and no valid token was sent "
            f"(log in with `hf auth login` or set HF_TOKEN) (HTTP {_status(e)})"
        ) from e
    except hf.RevisionNotFoundError as e:
        raise HubNotFoundError(
            f"revision {revision!r} not found in {repo_id!r} (HTTP {_status(e)})"
        ) from e
    except hf.RemoteEntryNotFoundError as e:
        raise HubNotFoundError(f"file {filename!r} not found in {repo} (HTTP {_status(e)})") from e
    except (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled) as e:
        raise HubOfflineError(
            f"{where} is not in the cache ({cache_dir()}) and the Hub cannot be reached"
            + (" (offline mode: HF_HUB_OFFLINE is set)" if _offline() else f": {e}")
        ) from e
    except hf.HfHubHTTPError as e:
        code = _status(e)
        if code in (401, 403):
            raise GatedRepoError(
                f"access to {where} denied (HTTP {code}): the repository is gated or private; "
                "log in with `hf auth login` or set HF_TOKEN"
            ) from e
        if code == 404:
            raise HubNotFoundError(f"{where} not found (HTTP 404)") from e
        raise HubError(f"Hub request for {where} failed: {e}") from e
    except _transport_errors() as e:
        raise HubError(f"cannot reach the Hub at {_endpoint()} for {where}: {e}") from e
    except ValueError as e:  # e.g. huggingface_hub refusing a cached ref that points elsewhere
        if isinstance(e, LlamaProvError):
            raise
        raise HubError(f"cannot use {where} from the cache {str(cache_dir())!r}: {e}") from e
    except OSError as e:
        if isinstance(e, HubError):
            raise
        raise HubError(f"download of {where} failed: {e}") from e


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's transport error classes (httpx2, httpx or requests, by hub version)."""
    found: list[type[BaseException]] = []
    candidates = (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException"))
    for module, name in candidates:
        with contextlib.suppress(ImportError):
            found.append(getattr(__import__(module), name))
    return tuple(found)


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


# ---------------------------------------------------------------- listing


def _snapshot_dir(repo_id: str, revision: str | None) -> Path | None:
    """The cached snapshot folder of ``revision`` (a branch, tag or commit), if any."""
    repo_dir = cache_dir() / ("models--" + repo_id.replace("/", "--"))
    rev = revision or "main"
    if _COMMIT_RE.fullmatch(rev):
        commit = rev
    else:
        ref = _inside_cache(repo_dir / "refs" / rev)
        if not ref.is_file():
            return None
        with open(ref, "rb") as fh:
            commit = fh.read(128).decode("ascii", "replace").strip()
        if not _COMMIT_RE.fullmatch(commit):
            logger.warning("ignoring cached ref %s: %r is not a commit hash", ref, commit[:50])
            return None
    snap = _inside_cache(repo_dir / "snapshots" / commit)
    return snap if snap.is_dir() else None


def _list_cached(repo_id: str, revision: str | None) -> list[GGUFFile]:
    snap = _snapshot_dir(repo_id, revision)
    if snap is None:
        raise HubOfflineError(
            f"offline (HF_HUB_OFFLINE is set) and {repo_id!r}"
            f"{'@' + revision if revision else ''} is not in the cache ({cache_dir()})"
        )
    entries = [
        (p.relative_to(snap).as_posix(), p.stat().st_size)
        for p in sorted(snap.rglob("*.gguf"))
        if p.exists()
    ]
    return _group(entries)


def list_gguf(repo_id: str, revision: str | None = None) -> list[GGUFFile]:
    """The GGUF models in a Hub repository, split models counted once.

    Offline (``HF_HUB_OFFLINE=1``) the list comes from the cached snapshot of ``revision``.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    _check_repo_id(repo_id)
    _check_revision(revision)
    if _offline():
        return _list_cached(repo_id, revision)
    with _translate_errors(repo_id, revision):
        api = HfApi(endpoint=_endpoint())
        tree = api.list_repo_tree(repo_id, revision=revision, recursive=True)
        entries = [(e.path, int(e.size or 0)) for e in tree if isinstance(e, RepoFile)]
    return _group(entries)


# ---------------------------------------------------------------- download


def _quiet_tqdm() -> type:
    from tqdm.auto import tqdm

    class _Quiet(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return _Quiet


def _fetch(repo_id: str, filename: str, revision: str | None, progress: bool) -> Path:
    from huggingface_hub import hf_hub_download

    with _translate_errors(repo_id, revision, filename):
        local = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=cache_dir(),
            endpoint=_endpoint(),
            local_files_only=_offline(),
            tqdm_class=None if progress else _quiet_tqdm(),
        )
    path = Path(str(local))
    # the snapshot folder must really be in the cache; the file in it links to a blob there
    _inside_cache(path.parent)
    return _inside_cache(path, resolve=False)


def _split_parts(filename: str) -> tuple[str, ...]:
    m = _SPLIT_RE.match(filename)
    if not m or int(m.group("count")) < 2:
        return (filename,)
    count = int(m.group("count"))
    return tuple(f"{m.group('prefix')}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1))


def download(
    repo_id: str,
    filename: str | None = None,
    *,
    quant: str | None = None,
    revision: str | None = None,
    progress: bool = True,
) -> Path:
    """Download a GGUF model into the Hub cache (or find it there) and return its local path.

    ``filename`` names the file; else ``quant`` picks the one model with that quantization
    (:class:`QuantSelectionError` when none or several match); with neither, Q4_K_M is preferred,
    then Q4_0, then the smallest model (the choice is logged). For a split model every part is
    downloaded and the path of the first part is returned. Interrupted transfers are resumed;
    a file appears in the cache only once complete. Offline (``HF_HUB_OFFLINE=1``) only the cache
    is used (:class:`HubOfflineError` when the file is not there).
    """
    _check_repo_id(repo_id)
    _check_revision(revision)
    q = _check_quant(quant)
    if filename is not None:
        if q is not None:
            raise InvalidArgumentError(
                f"pass filename= or quant=, not both (got {filename!r}, {quant!r})"
            )
        parts = _split_parts(_check_filename(filename))
    else:
        parts = _select(list_gguf(repo_id, revision), q, repo_id).parts

    first = _fetch(repo_id, parts[0], revision, progress)
    # Pin the other parts to the commit the first one came from, so all parts match.
    commit = first.parents[len(PurePosixPath(parts[0]).parts) - 1].name
    pinned = commit if re.fullmatch(r"[0-9a-f]{40}", commit) else revision
    for part in parts[1:]:
        local = _fetch(repo_id, part, pinned, progress)
        if local.parent != first.parent:
            raise HubError(
                f"parts of {parts[0]!r} landed in different folders: {first.parent}, {local.parent}"
            )
    return first


def load_model_hf(
    repo_id: str,
    *,
    quant: str | None = None,
    filename: str | None = None,
    revision: str | None = None,
    progress: bool = True,
    **load_kwargs: Any,
) -> Model:
    """Download (or find in the cache) a GGUF model from the Hub and load it.

    ``quant``/``filename``/``revision`` choose the file as in :func:`download`; ``load_kwargs`` go
    to :func:`llamaprov.engine.load_model` (``n_gpu_layers=``, ``use_mmap=`` ...).
    """
    from llamaprov.engine import load_model

    path = download(repo_id, filename, quant=quant, revision=revision, progress=progress)
    return load_model(path, **load_kwargs)


# ---------------------------------------------------------------- cache


def _scan() -> Any:
    from huggingface_hub import CacheNotFound, scan_cache_dir

    try:
        return scan_cache_dir(cache_dir())
    except CacheNotFound:
        return None


def _model_repos(scan: Any) -> list[Any]:
    return [r for r in (scan.repos if scan else ()) if r.repo_type == "model"]


def _gguf_paths(repo: Any) -> tuple[Path, ...]:
    files = (f for rev in repo.revisions for f in rev.files)
    return tuple(sorted({f.file_path for f in files if f.file_name.lower().endswith(".gguf")}))


def cache_info() -> CacheInfo:
    """The model repositories in the cache that hold GGUF files, with their files and sizes."""
    repos = []
    for repo in _model_repos(_scan()):
        files = _gguf_paths(repo)
        if files:
            revisions = tuple(sorted(rev.commit_hash for rev in repo.revisions))
            repos.append(
                CachedModelRepo(repo.repo_id, repo.repo_path, repo.size_on_disk, revisions, files)
            )
    return CacheInfo(cache_dir(), tuple(sorted(repos, key=lambda r: r.repo_id)))


def cache_clear(repo_id: str | None = None) -> int:
    """Delete a model repository from the cache, or every cached repository holding GGUF files.

    Other repositories (transformers models, datasets) are left alone. Returns the bytes freed.
    Naming a repository that is not cached raises :class:`HubNotFoundError`.
    """
    scan = _scan()
    repos = _model_repos(scan)
    if repo_id is not None:
        _check_repo_id(repo_id)
        targets = [r for r in repos if r.repo_id == repo_id]
        if not targets:
            cached = ", ".join(sorted(r.repo_id for r in repos)) or "none"
            raise HubNotFoundError(
                f"{repo_id!r} is not in the cache {cache_dir()} (cached models: {cached})"
            )
    else:
        targets = [r for r in repos if _gguf_paths(r)]
    if not targets:
        return 0
    hashes = [rev.commit_hash for r in targets for rev in r.revisions]
    strategy = scan.delete_revisions(*hashes)
    strategy.execute()
    freed = int(strategy.expected_freed_size)
    for repo in targets:  # a repo folder without snapshots is not covered by delete_revisions
        if repo.repo_path.exists() and not any(repo.repo_path.glob("snapshots/*")):
            import shutil

            shutil.rmtree(repo.repo_path, ignore_errors=True)
    return freed
