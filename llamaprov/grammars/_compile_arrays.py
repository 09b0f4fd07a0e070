"""Array grammars: ``prefixItems``/``items``, ``minItems``/``maxItems``, ``contains``/``minContains``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._keywords import as_count, pointer
from ._normalize import all_of
from ._schema import Flat

if TYPE_CHECKING:
    from ._compiler import Compiler


def compile_array(comp: Compiler, s: Flat, ptr: str, base: str) -> str | None:
    """An array valid under ``s`` (prefixItems, items, min/maxItems, contains); None if none is."""
    ws = comp.ws
    kw = s.keywords
    prefix = kw.get("prefixItems", [])
    rest = kw.get("items", True)
    min_items = as_count(kw.get("minItems", 0), "minItems", ptr)
    max_items = kw.get("maxItems")
    if max_items is not None:
        max_items = as_count(max_items, "maxItems", ptr)
    if kw.get("uniqueItems") is True and (max_items is None or max_items > 1):
        comp.approx("uniqueItems", ptr, "uniqueItems on arrays that may hold several items")
    prefix_exprs: list[str] = []
    for i, p in enumerate(prefix):
        e = comp.value(p, pointer(ptr, "prefixItems", i), base, frozenset())
        if e is None:
            max_items = i if max_items is None else min(max_items, i)
            break
        prefix_exprs.append(e)
    rest_expr = comp.value(rest, pointer(ptr, "items"), base, frozenset())
    if rest_expr is None:
        max_items = len(prefix_exprs) if max_items is None else min(max_items, len(prefix_exprs))
    if max_items is not None and min_items > max_items:
        return None
    if "contains" in kw:
        return _array_contains(comp, s, ptr, base, prefix_exprs, rest_expr, min_items, max_items)
    sep = f'"," {ws}'
    n_prefix = len(prefix_exprs)

    def item_at(j: int) -> str:
        e = prefix_exprs[j] if j < n_prefix else rest_expr
        assert e is not None
        return e

    def tail(j: int) -> str:
        if max_items is not None and j >= max_items:
            return ""
        if j >= n_prefix:
            lo = max(0, min_items - j)
            hi = None if max_items is None else max_items - j
            atom = comp.rules.add("item", f"{sep} {rest_expr} {ws}")
            return comp.rules.repeat(atom, lo, hi, "items")
        piece = f"{sep} {item_at(j)} {ws} {tail(j + 1)}".strip()
        if j < min_items:
            return piece
        return comp.rules.add("items", f"({piece})?")

    if max_items == 0 or (n_prefix == 0 and rest_expr is None):
        body = ""
    else:
        first = f"{item_at(0)} {ws} {tail(1)}".strip()
        body = first if min_items >= 1 else f"({first})?"
    return comp.rules.add("array", f'"[" {ws} {body} "]"'.replace("  ", " "))


def _array_contains(
    comp: Compiler,
    s: Flat,
    ptr: str,
    base: str,
    prefix: list[str],
    rest: str | None,
    min_items: int,
    max_items: int | None,
) -> str | None:
    """An array with at least ``minContains`` (default 1) items valid under ``contains``."""
    ws = comp.ws
    kw = s.keywords
    k = as_count(kw.get("minContains", 1), "minContains", ptr)
    if "maxContains" in kw or max_items is not None or prefix or min_items > max(k, 1):
        comp.unsupported("contains", ptr, "contains with maxContains/maxItems/prefixItems/minItems")
    if k == 0:
        kept = {key: v for key, v in s.keywords.items() if key not in ("contains", "minContains")}
        return compile_array(comp, s.replace(keywords=kept), ptr, base)
    if rest is None:
        return None
    # one schema object for the pair (all_of returns the same one each time), so a contains that
    # recurses through $ref becomes a named rule instead of being inlined without end
    both = all_of(kw.get("items", True), kw["contains"])
    c_expr = comp.value(both, pointer(ptr, "contains"), base, frozenset())
    if c_expr is None:
        return None
    sep = f'"," {ws}'
    any_before = comp.rules.add("items-pre", f"{rest} {ws} {sep}")
    any_after = comp.rules.add("items-post", f"{sep} {rest} {ws}")
    parts = [f"{any_before}*", c_expr, ws]
    for _ in range(k - 1):
        parts += [f"{any_after}*", sep, c_expr, ws]
    parts.append(f"{any_after}*")
    return comp.rules.add("array", f'"[" {ws} ' + " ".join(p for p in parts if p) + ' "]"')
