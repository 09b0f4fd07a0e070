"""Chat templates: GGUF Jinja templates rendered in a sandbox, and llama.cpp's built-in ones.

Templates shipped inside model files are untrusted code. They run in
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with only the helpers Hugging Face
templates rely on (``raise_exception``, ``tojson``, ``strftime_now``), and within bounds: a
render may take at most :data:`RENDER_TIME_LIMIT` seconds, produce at most
:data:`MAX_RENDER_SIZE` characters, build no string or list larger than that, and ask for no
``range()`` longer than :data:`MAX_RANGE`. Going past a bound is a :class:`TemplateError`.
"""

from __future__ import annotations

import copy
import ctypes
import datetime
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ..errors import InvalidArgumentError, TemplateError, describe
from ._ffi import c_str, lib
from ._jinja_compat import GenerationBlock, materialized, plain_safe, set_attribute
from ._template_caps import fitted, template_caps

if TYPE_CHECKING:
    from .model import Model

__all__ = ["MAX_RANGE", "MAX_RENDER_SIZE", "RENDER_TIME_LIMIT", "chat_builtin_templates",
           "render_chat", "render_jinja"]

_FALLBACK = "chatml"

#: Wall-clock seconds one render may take (checked in loops, calls, operators and output).
RENDER_TIME_LIMIT = 5.0
#: Most characters a render may produce, and the largest string or list (counted as the text it
#: would print) a template may build.
MAX_RENDER_SIZE = 16_000_000
#: Most numbers a template's ``range()`` may produce.
MAX_RANGE = 100_000
#: Deepest nesting of lists and dicts a template may build or print.
MAX_NESTING = 256
# the largest integer (in bits) '*' and '**' may produce
_MAX_INT_BITS = 1 << 15


def chat_builtin_templates() -> list[str]:
    """Names of the chat templates llama.cpp can format without Jinja."""
    n = lib.llama_chat_builtin_templates(None, 0)
    arr = (ctypes.c_char_p * n)()
    lib.llama_chat_builtin_templates(arr, n)
    return [name.decode() for name in arr[:n] if name]


class _TemplateRaised(Exception):
    """raise_exception() called by a template."""


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(str(message))


def _tojson(value: Any, indent: int | str | None = None, ensure_ascii: bool = False,
            sort_keys: bool = False, separators: Any = None) -> str:
    width = len(indent) if isinstance(indent, str) else indent or 0
    if width > 16:
        raise TemplateError(f"chat template asked tojson for an indent of {indent!r} (at most 16)")
    value = materialized(value)
    _require(_budget().size(value) * (1 + width), "JSON text")
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys,
                      separators=tuple(separators) if separators else None)


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(str(fmt))


# ---------------------------------------------------------------------------------- the budget
class _Budget:
    """What one render may still spend: time, output, and a memo of value sizes.

    Sizes are memoized by identity (the values are kept alive with them): the sandbox is
    immutable, and a list holding the same big list many times is measured once.
    """

    __slots__ = ("deadline", "produced", "sizes")

    def __init__(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.produced = 0
        self.sizes: dict[int, tuple[Any, int]] = {}

    def tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TemplateError(f"chat template ran past its time limit of {RENDER_TIME_LIMIT:g} s")

    def produce(self, n: int) -> None:
        """Count ``n`` characters of output (including text captured by set blocks and macros)."""
        self.produced += n
        if self.produced > MAX_RENDER_SIZE:
            raise TemplateError(f"chat template output exceeds {MAX_RENDER_SIZE:,} characters")
        self.tick()

    def size(self, value: Any, depth: int = 0) -> int:
        """About how many characters ``value`` prints as (stops counting past the limit)."""
        if isinstance(value, str):
            return len(value)
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            hit = self.sizes.get(id(value))
            if hit is not None:
                return hit[1]
            if depth >= MAX_NESTING:
                raise TemplateError(f"chat template data is nested deeper than {MAX_NESTING} levels")
            total = 2
            if isinstance(value, dict):
                for k, v in value.items():
                    total += 4 + self.size(k, depth + 1) + self.size(v, depth + 1)
                    if total > MAX_RENDER_SIZE:
                        break
            else:
                for item in value:
                    total += 2 + self.size(item, depth + 1)
                    if total > MAX_RENDER_SIZE:
                        break
            self.sizes[id(value)] = (value, total)
            return total
        if isinstance(value, int):
            return value.bit_length() // 3 + 1
        return 8


_local = threading.local()


def _budget() -> _Budget:
    """The budget of the render running on this thread (an unlimited one at compile time)."""
    budget = getattr(_local, "budget", None)
    return budget if budget is not None else _Budget(None)


def _require(estimate: int, what: str) -> None:
    if estimate > MAX_RENDER_SIZE:
        raise TemplateError(
            f"chat template tried to build {what}: about {estimate:,} characters "
            f"(the limit is {MAX_RENDER_SIZE:,})")


def _bounded(value: Any, what: str) -> Any:
    _require(_budget().size(value), what)
    return value


# ------------------------------------------------------------------- guards the compiler inserts
class _LoopGuard:
    """A for-loop's iterable that spends the budget on every iteration."""

    __slots__ = ("_items", "_literal")

    def __init__(self, items: Any, literal: int) -> None:
        self._items = items
        self._literal = literal

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        budget = _budget()
        for item in self._items:
            budget.produce(self._literal)
            yield item


def _loop(items: Any, literal: int) -> _LoopGuard:
    return _LoopGuard(items, literal)


def _concat(parts: list[Any]) -> str:
    budget = _budget()
    _require(sum(budget.size(p) for p in parts), "a string with '~'")
    return "".join(map(str, parts))


def _value(value: Any) -> Any:
    return _bounded(value, "a list or dict literal")


_GUARDS = (_loop, _concat, _value)


def _literal_size(loop: nodes.For) -> int:
    """Characters of template text a loop body may print per iteration (nested loops count
    their own)."""
    total = 0
    todo: list[nodes.Node] = list(loop.body)
    while todo:
        node = todo.pop()
        if isinstance(node, nodes.For):
            continue
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            total += len(node.value)
        todo.extend(node.iter_child_nodes())
    return total


class _InsertGuards(NodeTransformer):
    """Rewrites a parsed template so loops, ``~`` and literals go through the guards."""

    def _guard(self, func: Callable[..., Any], args: list[nodes.Expr], lineno: int) -> nodes.Call:
        name = nodes.ImportedName(f"{__name__}.{func.__name__}", lineno=lineno)
        return nodes.Call(name, args, [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        args: list[nodes.Expr] = [node.iter, nodes.Const(_literal_size(node), lineno=node.lineno)]  # type: ignore[list-item]
        node.iter = self._guard(_loop, args, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._guard(_concat, [nodes.List(node.nodes, lineno=node.lineno)], node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return self._guard(_value, [node], node.lineno)

    visit_List = visit_Dict = _literal

    def visit_Assign(self, node: nodes.Assign) -> nodes.Node:
        self.generic_visit(node)
        target = node.target
        if not isinstance(target, nodes.NSRef):
            return node
        ref = nodes.Name(target.name, "load", lineno=node.lineno)
        attr = nodes.Const(target.attr, lineno=node.lineno)
        value: nodes.Expr = node.node  # type: ignore[assignment]  # the parser's value is an Expr
        return nodes.ExprStmt(self._guard(set_attribute, [ref, attr, value], node.lineno),
                              lineno=node.lineno)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._literal(node) if node.ctx == "load" else self.generic_visit(node) or node


class _GuardedCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
        node = _InsertGuards().visit(node)
        node.set_environment(self.environment)
        super().visit_Template(node, frame)


# ---------------------------------------------------------------- estimates before building
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_DIGITS = re.compile(r"\d+")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")


def _format_size(fmt: str, values: Sequence[Any], percent: bool) -> int:
    """Rough size of ``fmt`` filled with ``values`` (``%`` or ``str.format`` style): every
    field counts as wide as the widest value or the widest width its spec asks for, and a
    width taken from the arguments (``*``, nested fields) as the largest int among them."""
    budget = _budget()
    if percent:
        specs = [n for m in _PERCENT_SPEC.finditer(fmt) for n in m.groups() if n]
        fields = len(specs) + fmt.count("%")
    else:
        specs = [d for m in _BRACE_SPEC.finditer(fmt) for d in _DIGITS.findall(m.group(1))]
        specs += ["*"] if _NESTED_FIELD.search(fmt) else []
        fields = fmt.count("{")
    widths = [int(d) if len(d) < 10 else MAX_RENDER_SIZE + 1 for d in specs if d != "*"]
    if "*" in specs:
        widths += [v for v in values if isinstance(v, int)]
    widest = max([*widths, *(budget.size(v) for v in values)], default=0)
    return len(fmt) + fields * widest


def _mod_size(left: str, right: Any) -> int:
    if isinstance(right, tuple):
        values: Sequence[Any] = right
    elif isinstance(right, Mapping):
        values = list(right.values())
    else:
        values = [right]
    return _format_size(left, values, True)


def _replace_size(s: str, old: Any, new: Any, count: Any) -> int:
    old, new = str(old), str(new)
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * len(new)


def _join_size(sep: str, items: Sequence[Any]) -> int:
    budget = _budget()
    return sum(budget.size(item) for item in items) + len(sep) * len(items)


def _arg(args: Sequence[Any], kwargs: Mapping[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _binop_check(operator: str, left: Any, right: Any) -> None:
    budget = _budget()
    ints = (isinstance(left, int) and isinstance(right, int))
    if operator == "*":
        if ints:
            if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                raise TemplateError(f"chat template tried to multiply numbers past {_MAX_INT_BITS} bits")
            return
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                _require(budget.size(seq) * max(n, 0), f"{type(seq).__name__} * {n}")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and type(left) is type(right):
            kind = type(left).__name__
            _require(budget.size(left) + budget.size(right), f"{kind} + {kind}")
    elif operator == "**":
        if ints and right > 0 and abs(left) > 1 and left.bit_length() * right > _MAX_INT_BITS:
            raise TemplateError(f"chat template tried to compute {left} ** {right} "
                                f"(results past {_MAX_INT_BITS} bits are refused)")
    elif operator == "%" and isinstance(left, str):
        _require(_mod_size(left, right), f"{left[:40]!r} % ...")


def _method_check(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a str method call that would build a string past the limit; returns the
    arguments (an iterator given to ``join`` is read into a list first)."""
    target = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(target, "__name__", "")
    budget = _budget()
    estimate = 0
    if name in ("center", "ljust", "rjust", "zfill"):
        width = _arg(args, kwargs, 0, "width", 0)
        estimate = width if isinstance(width, int) else 0
    elif name == "expandtabs":
        tabs = _arg(args, kwargs, 0, "tabsize", 8)
        estimate = len(owner) * max(tabs if isinstance(tabs, int) else 1, 1)
    elif name == "replace" and len(args) >= 2:
        estimate = _replace_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count", -1))
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], (list, tuple, str)) else list(args[0])
        estimate = _join_size(owner, items)
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        widest = max((budget.size(v) for v in args[0].values()), default=1)
        estimate = len(owner) * max(widest, 1)
    elif name == "format":
        estimate = _format_size(owner, [*args, *kwargs.values()], False)
    elif name == "format_map" and args and isinstance(args[0], Mapping):
        estimate = _format_size(owner, list(args[0].values()), False)
    _require(estimate, f"str.{name}()")
    return args


def _filter_check(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a filter call that would build a value past the limit."""
    budget = _budget()
    _require(budget.size(value), f"the input of filter {name!r}")
    text = value if isinstance(value, str) else ""
    estimate = 0
    if name == "center":
        width = _arg(args, kwargs, 0, "width", 80)
        estimate = width if isinstance(width, int) else 0
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        estimate = len(text) + (text.count("\n") + 1) * per_line
    elif name == "wordwrap":
        wrap = _arg(args, kwargs, 2, "wrapstring", None)
        estimate = len(text) * (1 + len(wrap if isinstance(wrap, str) else "\n"))
    elif name == "replace" and len(args) >= 2:
        estimate = _replace_size(text, args[0], args[1], _arg(args, kwargs, 2, "count", None))
    elif name == "format":
        estimate = _format_size(text, [*args, *kwargs.values()], True)
    elif name == "join" and isinstance(value, (list, tuple)):
        estimate = _join_size(str(_arg(args, kwargs, 0, "d", "")), value)
    elif name in ("batch", "slice"):
        count = _arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 1)
        fill = _arg(args, kwargs, 1, "fill_with", None)
        if isinstance(count, int):
            estimate = count * (2 + budget.size(fill)) if fill is not None else count
    elif name == "sum":
        start = _arg(args, kwargs, 1, "start", 0)
        if not isinstance(start, (int, float)):
            raise TemplateError(f"chat template asked filter 'sum' for a start of {start!r} "
                                "(only numbers can be summed)")
    _require(estimate, f"the result of filter {name!r}")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # filters marked pass_context/pass_eval_context/pass_environment get that first
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        if name == "join" and len(args) > skip and not isinstance(args[skip], (list, tuple, str, Mapping)):
            args = (*args[:skip], list(args[skip]), *args[skip + 1:])
        if len(args) > skip:
            _filter_check(name, args[skip], args[skip + 1:], kwargs)
        return _bounded(func(*args, **kwargs), f"the result of filter {name!r}")

    return guarded


def _range(*args: int) -> range:
    try:
        numbers = range(*args)
        n = len(numbers)
    except OverflowError:
        n = MAX_RANGE + 1
    if n > MAX_RANGE:
        shown = ", ".join(map(str, args))
        raise TemplateError(f"chat template asked for range({shown}), more than {MAX_RANGE:,} numbers")
    return numbers


def _finalize(value: Any) -> Any:
    _budget().produce(_budget().size(value) if not isinstance(value, str) else len(value))
    return value


# --------------------------------------------------------------------------------- the sandbox
class _StrictSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded: reaching for an unsafe attribute is an error, not '', and
    operators, calls, loops and output spend the render's budget."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset(["*", "+", "**", "%"])

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        _binop_check(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if any(obj is guard for guard in _GUARDS):
            return obj(*args)  # (the compiler may add _loop_vars/_block_vars keywords)
        _budget().tick()
        named = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
        args = _method_check(obj, args, named)
        result = super().call(context, obj, *args, **kwargs)
        return _bounded(result, f"the result of {getattr(obj, '__name__', 'a call')}()")


@functools.lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined,
                         finalize=_finalize, extensions=["jinja2.ext.loopcontrols", GenerationBlock])
    env.filters["tojson"] = _tojson
    env.filters["safe"] = plain_safe
    env.filters = {name: _guard_filter(name, func) for name, func in env.filters.items()}
    env.globals.pop("lipsum", None)
    env.globals["range"] = _range
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@functools.lru_cache(maxsize=32)
def _compile(source: str) -> jinja2.Template:
    try:
        return _environment().from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"chat template does not compile: {exc}") from None
    except Exception as exc:  # RecursionError on absurd nesting, ...
        raise TemplateError(f"chat template does not compile: {type(exc).__name__}: {exc}") from None


def render_jinja(source: str, **variables: Any) -> str:
    """Render Jinja template ``source`` in the sandbox. Any failure is a TemplateError,
    including going past the time and size bounds (see the module docstring)."""
    template = _compile(source)
    previous = getattr(_local, "budget", None)
    _local.budget = _Budget(RENDER_TIME_LIMIT)
    try:
        pieces: list[str] = []
        total = 0
        for piece in template.generate(**variables):
            total += len(piece)
            if total > MAX_RENDER_SIZE:
                raise TemplateError(f"chat template output exceeds {MAX_RENDER_SIZE:,} characters")
            pieces.append(piece)
        return "".join(pieces)
    except TemplateError:
        raise
    except _TemplateRaised as exc:
        raise TemplateError(f"chat template raised: {exc}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"chat template tried an unsafe operation: {exc}") from None
    except Exception as exc:
        raise TemplateError(f"chat template failed: {type(exc).__name__}: {exc}") from None
    finally:
        _local.budget = previous


def _check_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidArgumentError(f"messages must be a list of dicts, got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise InvalidArgumentError(f"message {i} must be a dict with a 'role' str, got {m!r}")
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidArgumentError(f"message {i} content must be a str, list or None, got {content!r}")
        out.append(dict(m))
    return out


def _is_jinja(source: str) -> bool:
    return "{%" in source or "{{" in source


def _builtin(name: str, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
    keep = [(c_str(m["role"]), c_str(m.get("content") or "")) for m in messages]
    arr = (lib.llama_chat_message * max(1, len(keep)))()
    for i, (role, content) in enumerate(keep):
        arr[i].role = role
        arr[i].content = content
    size = 256 + 2 * sum(len(r) + len(c) for r, c in keep)
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        n = lib.llama_chat_apply_template(c_str(name), arr, len(keep), add_generation_prompt, buf, size)
        if n < 0:
            raise TemplateError(f"llama.cpp does not know the chat template {name!r}")
        if n <= size:
            return buf.raw[:n].decode("utf-8", errors="replace")
        size = n + 1
    raise TemplateError(f"chat template {name!r} output did not fit")  # pragma: no cover


def render_chat(model: Model, messages: Sequence[Mapping[str, Any]], *,
                add_generation_prompt: bool = True, tools: Sequence[Any] | None = None,
                template: str | None = None, extra: Mapping[str, Any] | None = None) -> str:
    """Render ``messages`` with ``template`` (Jinja or built-in name) or the model's own."""
    msgs = _check_messages(messages)
    if tools is not None and (isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence)
                              or not all(isinstance(t, Mapping) for t in tools)):
        raise InvalidArgumentError(f"tools must be None or a list of tool dicts, got {describe(tools)}")
    if template is not None and not isinstance(template, str):
        raise InvalidArgumentError(f"template must be a str, got {template!r}")
    source = template if template is not None else model.chat_template()
    if source is None:
        source = _FALLBACK
    if not _is_jinja(source):
        if tools:
            raise TemplateError(f"built-in template {source!r} cannot present tools; use a Jinja template")
        return _builtin(source, msgs, add_generation_prompt)
    vocab = model.vocab
    bos, eos = vocab.bos, vocab.eos
    variables: dict[str, Any] = {
        "messages": msgs,
        "add_generation_prompt": add_generation_prompt,
        "bos_token": model.token_to_piece(bos, special=True) if bos is not None else "",
        "eos_token": model.token_to_piece(eos, special=True) if eos is not None else "",
    }
    variables["messages"] = fitted(msgs, template_caps(source, render_jinja))
    if tools is not None:  # copies: a template may set keys of them
        variables["tools"] = copy.deepcopy(list(tools))
    variables.update(extra or {})
    return render_jinja(source, **variables)
