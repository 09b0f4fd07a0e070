"""The documentation site: ``mkdocs build --strict`` passes, the API reference renders from the
docstrings, and the Python samples of docs/ name only what llamaprov has.

The samples are not run (most need a model and take seconds each); they are parsed, and every
llamaprov name they import, every attribute they read from a llamaprov module or class, and every
attribute they read from a value a llamaprov callable returns (by its return annotation) is looked
up in the package.
"""

from __future__ import annotations

import ast
import dataclasses
import html as html_module
import importlib
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)

# the public modules the reference pages document, and a name each page must show
REFERENCE = {
    "engine": "llamaprov.engine.Context",
    "chat": "llamaprov.chat.Chat",
    "grammars": "llamaprov.grammars.json_schema_to_gbnf",
    "langchain": "llamaprov.integrations.langchain.ChatLlamaProv",
    "rag": "llamaprov.integrations.rag.RagStore",
    "embedding": "llamaprov.integrations.embedding.LlamaProvEmbedder",
    "hub": "llamaprov.hub.list_gguf",
    "models": "llamaprov.models.resolve_model",
    "train": "llamaprov.train.finetune",
    "errors": "llamaprov.errors.LlamaProvError",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    warnings = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert warnings == [], "\n".join(warnings)
    return out


def test_build_is_strict_and_complete(site: Path) -> None:
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")}
    for page in pages:
        built = site / ("" if page == "index" else page) / "index.html"
        assert built.is_file(), page
    assert {"engine", "api-map", "getting-started", "comparison", "benchmarks"} <= pages


@pytest.mark.parametrize("page", sorted(REFERENCE))
def test_reference_pages_render_the_docstrings(site: Path, page: str) -> None:
    html = (site / "reference" / page / "index.html").read_text(encoding="utf-8")
    assert f'id="{REFERENCE[page]}"' in html
    module = REFERENCE[page].rsplit(".", 1)[0]
    doc = importlib.import_module(module).__doc__
    assert doc, f"{module} has no docstring"
    first_words = " ".join(doc.replace("`", "").split()[:3])  # inline code loses its backticks
    assert first_words in " ".join(html_module.unescape(re.sub(r"<[^>]+>", "", html)).split())


# -- the samples --------------------------------------------------------------------------------

# pages whose python blocks may list signatures in Python notation (bare ``*``, ``...same...``,
# ``-> Type``) rather than runnable code: their blocks that do not parse are left out
SIGNATURE_PAGES = {"docs/engine.md"}


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def samples() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if name in SIGNATURE_PAGES and not parses(match.group(1)):
                continue
            line = text.count("\n", 0, match.start()) + 2
            found.append((name, line, match.group(1)))
    return found


def has_member(owner: Any, name: str) -> bool:
    if hasattr(owner, name):
        return True
    if isinstance(owner, type):
        for cls in owner.__mro__:
            if name in getattr(cls, "__annotations__", {}) or name in getattr(cls, "model_fields", {}):
                return True
            if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
                return True
    return False


def returned_type(func: Any) -> type | None:
    """The class a llamaprov callable returns, from its annotation, when that is one plain class."""
    if isinstance(func, type):
        return func
    target = getattr(func, "__func__", func)
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation naming a class imported only where it is used
        import inspect

        try:
            hint = inspect.signature(target).return_annotation
        except (TypeError, ValueError):
            return None
        if isinstance(hint, str) and hint.isidentifier():
            import llamaprov

            hint = getattr(sys.modules.get(target.__module__), hint, None) or getattr(llamaprov, hint, None)
    if isinstance(hint, type) and hint.__module__.startswith("llamaprov"):
        return hint
    return None


class SampleChecker(ast.NodeVisitor):
    """Looks up the llamaprov names a sample uses; collects the ones that do not exist."""

    def __init__(self) -> None:
        self.known: dict[str, Any] = {}     # local name -> llamaprov module, class or callable
        self.instances: dict[str, type] = {}  # local name -> class of the value bound to it
        self.missing: list[str] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] != "llamaprov":
                continue
            try:
                importlib.import_module(alias.name)
            except ImportError:
                self.missing.append(f"import {alias.name}")
                continue
            local = alias.asname or alias.name.split(".")[0]
            self.known[local] = importlib.import_module(alias.name if alias.asname else "llamaprov")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module or node.module.split(".")[0] != "llamaprov":
            return
        try:
            module = importlib.import_module(node.module)
        except ImportError:
            self.missing.append(f"from {node.module} import ...")
            return
        for alias in node.names:
            if not hasattr(module, alias.name):
                try:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    self.missing.append(f"{node.module}.{alias.name}")
                    continue
            else:
                value = getattr(module, alias.name)
            self.known[alias.asname or alias.name] = value

    def resolve(self, node: ast.AST) -> Any:
        """The llamaprov object an expression names (a dotted path from a known name), or None."""
        if isinstance(node, ast.Name):
            return self.known.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            if owner is None:
                return None
            if not hasattr(owner, node.attr):
                try:
                    return importlib.import_module(f"{owner.__name__}.{node.attr}")
                except (ImportError, AttributeError):
                    return None
            return getattr(owner, node.attr)
        return None

    def value_type(self, node: ast.AST) -> type | None:
        if isinstance(node, ast.Call):
            func = self.resolve(node.func)
            if func is not None:
                return returned_type(func)
            if isinstance(node.func, ast.Attribute):  # a method of a value of known class
                cls = self.value_type(node.func.value)
                method = getattr(cls, node.func.attr, None) if cls else None
                return returned_type(method) if method is not None else None
        if isinstance(node, ast.Name):
            return self.instances.get(node.id)
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        cls = self.value_type(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if cls is not None:
                    self.instances[target.id] = cls
                else:
                    self.instances.pop(target.id, None)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            cls = self.value_type(item.context_expr)
            if isinstance(item.optional_vars, ast.Name) and cls is not None:
                self.instances[item.optional_vars.id] = cls
        for stmt in node.body:
            self.visit(stmt)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        owner = self.resolve(node.value)
        if owner is not None:
            if not has_member(owner, node.attr) and self.resolve(node) is None:
                self.missing.append(f"{getattr(owner, '__name__', owner)}.{node.attr}")
        else:
            cls = self.value_type(node.value)
            if cls is not None and not has_member(cls, node.attr):
                self.missing.append(f"{cls.__name__}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = self.resolve(node.func)
        if func is None and isinstance(node.func, ast.Attribute):
            cls = self.value_type(node.func.value)
            func = getattr(cls, node.func.attr, None) if cls else None
        if callable(func):
            self.check_keywords(func, node)
        self.generic_visit(node)

    def check_keywords(self, func: Any, node: ast.Call) -> None:
        import inspect

        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return
        names = set(params) | set(getattr(func, "model_fields", {}))  # pydantic fields by name
        for kw in node.keywords:
            if kw.arg is not None and kw.arg not in names:
                self.missing.append(f"{getattr(func, '__qualname__', func)}({kw.arg}=)")


SAMPLES = samples()
PAGES = sorted({path for path, _, _ in SAMPLES})


def test_docs_have_python_samples() -> None:
    assert len(SAMPLES) >= 15
    assert set(PAGES) >= {"docs/getting-started.md", "docs/guides/tools.md", "docs/guides/performance.md"}


@pytest.mark.parametrize("page", PAGES)
def test_sample_names_exist(page: str) -> None:
    # the blocks of a page are read in order, as one program: a later block uses the names an
    # earlier one bound (``chat`` made in the first sample of a guide)
    checker = SampleChecker()
    for path, line, code in SAMPLES:
        if path != page:
            continue
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            pytest.fail(f"{path}:{line + (exc.lineno or 1) - 1}: {exc.msg}")
        checker.missing = []
        checker.visit(tree)
        assert checker.missing == [], f"{path}:{line}: not in llamaprov: {checker.missing}"


def test_checker_catches_made_up_names() -> None:
    code = ("import llamaprov\nfrom llamaprov import load_model, RagStore\n"
            "chat = llamaprov.chat_llamaprov(n_ctx=512, no_such_option=1)\n"
            "chat.no_such_method()\nllamaprov.no_such_function()\n"
            "model = load_model('x.gguf')\nmodel.new_context().no_such_attr\n"
            "RagStore.no_such_constructor('x')\n")
    checker = SampleChecker()
    checker.visit(ast.parse(code))
    assert sorted(checker.missing) == sorted([
        "Chat.no_such_method", "llamaprov.no_such_function", "Context.no_such_attr",
        "RagStore.no_such_constructor",
    ]), checker.missing
