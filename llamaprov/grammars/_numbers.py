"""Grammars for JSON numbers within exact decimal bounds (integers and plain decimals).

All functions return GBNF expressions (or None for an empty language) over canonical JSON
number text: no leading zeros, no exponent once a bound is given.
"""

from __future__ import annotations

from decimal import Decimal

from ._builder import RuleSet, alt, group

_D = "[0-9]"


def _digits(n: int) -> str:
    return " ".join([_D] * n)


def _dclass(a: int, b: int) -> str:
    return f'"{a}"' if a == b else f"[{a}-{b}]"


def same_len(lo: str, hi: str) -> str:
    """Digit strings of len(lo) == len(hi) between lo and hi inclusive (lo <= hi)."""
    if not lo:
        return ""
    if lo == hi:
        return f'"{lo}"'
    n = len(lo) - 1
    a, b = int(lo[0]), int(hi[0])
    if a == b:
        return f'"{a}" ' + group(same_len(lo[1:], hi[1:]))
    parts = []
    start, end = a, b
    if lo[1:] != "0" * n:
        parts.append(f'"{a}" ' + group(same_len(lo[1:], "9" * n)))
        start = a + 1
    tail = None
    if hi[1:] != "9" * n:
        tail = f'"{b}" ' + group(same_len("0" * n, hi[1:]))
        end = b - 1
    if start <= end:
        parts.append(f"{_dclass(start, end)} {_digits(n)}".strip())
    if tail:
        parts.append(tail)
    return alt(parts)


def nonneg_int_range(lo: int, hi: int | None) -> str | None:
    """Canonical decimal text of integers in [lo, hi] (0 <= lo; hi None: unbounded)."""
    if hi is not None and hi < lo:
        return None
    los = str(lo)
    parts = []
    if hi is None:
        parts.append(same_len(los, "9" * len(los)))
        parts.append(f"[1-9] {_digits(len(los))} {_D}*")
    else:
        his = str(hi)
        for length in range(len(los), len(his) + 1):
            a = los if length == len(los) else "1" + "0" * (length - 1)
            b = his if length == len(his) else "9" * length
            parts.append(same_len(a, b))
    return alt([group(p) if " " in p and not p.startswith("(") else p for p in parts])


def int_range(lo: int | None, hi: int | None) -> str | None:
    """Canonical JSON integers in [lo, hi] (None: unbounded on that side)."""
    parts = []
    if hi is None or hi >= 0:
        p = nonneg_int_range(max(lo, 0) if lo is not None else 0, hi)
        if p:
            parts.append(p)
    if lo is None or lo < 0:
        mag_lo = 1 if hi is None or hi >= 0 else -hi
        p = nonneg_int_range(mag_lo, None if lo is None else -lo)
        if p:
            parts.append('"-" ' + group(p))
    return alt(parts) if parts else None


# --- fractions ------------------------------------------------------------------------------


def _frac(lo: str, lo_ex: bool, hi: str | None, hi_ex: bool) -> tuple[bool, list[str]]:
    """Digit strings s (value 0.s) with lo <(=) 0.s <(=) hi; hi None: no upper bound (< 1).

    Returns (empty string allowed, alternatives for the non-empty strings).
    """
    lo = lo.rstrip("0")
    if hi is not None:
        hi = hi.rstrip("0")
    lower_zero_ok = not lo and not lo_ex
    if hi == "":
        if hi_ex or not lower_zero_ok:
            return False, []
        return True, ['"0"+']
    if not lo and hi is None:
        if lo_ex:  # > 0: some non-zero digit
            return False, [f'"0"* [1-9] {_D}*']
        return True, [f"{_D}+"]
    lo_d = int(lo[0]) if lo else 0
    groups: dict[tuple[tuple[str, bool], tuple[str, bool] | None], list[int]] = {}
    for d in range(lo_d, 10):
        low = ("", False) if d > lo_d else (lo[1:], lo_ex)
        up: tuple[str, bool] | None = None
        if hi is not None:
            hi_d = int(hi[0])
            if d > hi_d:
                break
            if d == hi_d:
                up = (hi[1:], hi_ex)
        groups.setdefault((low, up), []).append(d)
    alts = []
    for (low, up), ds in groups.items():
        cls = _digit_set(ds)
        empty, sub = _frac(low[0], low[1], None if up is None else up[0], False if up is None else up[1])
        if not empty and not sub:
            continue
        if sub == [f"{_D}+"] and empty:
            alts.append(f"{cls} {_D}*")
            continue
        rest = alt(([""] if empty else []) + sub)
        alts.append(f"{cls} {group(rest) if rest else ''}".strip())
    return lower_zero_ok, alts


def _split(x: Decimal) -> tuple[int, str]:
    """Non-negative decimal as (integer part, fraction digits)."""
    q = int(x)
    frac = x - q
    if frac == 0:
        return q, ""
    text = format(frac, "f")  # "0.xxx"
    return q, text.split(".", 1)[1].rstrip("0")


def _frac_part(lo: str, lo_ex: bool, hi: str | None, hi_ex: bool) -> str | None:
    empty, alts = _frac(lo, lo_ex, hi, hi_ex)
    opts = [""] if empty else []
    if alts:
        opts.append('"." ' + group(alt(alts)))
    if not opts:
        return None
    return alt(opts)


def _nonneg_decimal(lo: Decimal, lo_ex: bool, hi: Decimal | None, hi_ex: bool) -> str | None:
    a, af = _split(lo)
    parts = []

    def branch(int_expr: str | None, frac: str | None) -> None:
        if int_expr is not None and frac is not None:
            parts.append(f"{group(int_expr)} {frac}".strip())

    if hi is None:
        branch(f'"{a}"', _frac_part(af, lo_ex, None, False))
        branch(nonneg_int_range(a + 1, None), f'("." {_D}+)?')
        return alt(parts) if parts else None
    if hi < lo or (hi == lo and (lo_ex or hi_ex)):
        return None
    b, bf = _split(hi)
    if a == b:
        branch(f'"{a}"', _frac_part(af, lo_ex, bf, hi_ex))
    else:
        branch(f'"{a}"', _frac_part(af, lo_ex, None, False))
        if b - 1 >= a + 1:
            branch(nonneg_int_range(a + 1, b - 1), f'("." {_D}+)?')
        branch(f'"{b}"', _frac_part("", False, bf, hi_ex))
    return alt(parts) if parts else None


def decimal_range(lo: Decimal | None, lo_ex: bool, hi: Decimal | None, hi_ex: bool) -> str | None:
    """JSON numbers without exponent in the interval given by the bounds."""
    parts = []
    if hi is None or hi >= 0:
        if lo is None or lo < 0:
            p = _nonneg_decimal(Decimal(0), False, hi, hi_ex)
        else:
            p = _nonneg_decimal(lo, lo_ex, hi, hi_ex)
        if p:
            parts.append(p)
    if lo is None or lo < 0:
        if hi is None or hi >= 0:
            p = _nonneg_decimal(Decimal(0), True, None if lo is None else -lo, lo_ex)
        else:
            p = _nonneg_decimal(-hi, hi_ex, None if lo is None else -lo, lo_ex)
        if p:
            parts.append('"-" ' + group(p))
    return alt(parts) if parts else None


def multiples_nonneg(k: int, lo: int, hi: int | None, rules: RuleSet, hint: str) -> str | None:
    """Canonical integers in [lo, hi] (0 <= lo; hi None: unbounded) divisible by ``k``.

    A digit-by-digit automaton (remainder, still equal to a bound's prefix) as right-linear rules.
    """
    if hi is not None and hi < lo:
        return None
    parts: list[str] = []
    len_lo = len(str(lo))
    last = len(str(hi)) if hi is not None else len_lo
    for length in range(len_lo, last + 1):
        a = lo if length == len_lo else 10 ** (length - 1)
        b = hi if hi is not None and length == last else 10**length - 1
        if a <= b:
            e = _mod_fixed(k, str(a), str(b), rules, hint)
            if e is not None:
                parts.append(e)
    if hi is None:
        memo: dict[tuple[int, int], str] = {}
        firsts: dict[str, list[int]] = {}
        for d in range(1, 10):
            name = _mod_tail(k, d % k, len_lo, rules, hint, memo)
            if name is not None:
                firsts.setdefault(name, []).append(d)
        parts += [f"{_digit_set(ds)} {name}" for name, ds in firsts.items()]
    return alt([group(p) for p in parts]) if parts else None


def _mod_fixed(k: int, a: str, b: str, rules: RuleSet, hint: str) -> str | None:
    memo: dict[tuple[int, int, bool, bool], str | None] = {}
    n = len(a)

    def state(pos: int, rem: int, tlo: bool, thi: bool) -> str | None:
        key = (pos, rem, tlo, thi)
        if key in memo:
            return memo[key]
        if pos == n:
            memo[key] = "" if rem == 0 else None
            return memo[key]
        lo_d = int(a[pos]) if tlo else 0
        hi_d = int(b[pos]) if thi else 9
        by_next: dict[str, list[int]] = {}
        for d in range(lo_d, hi_d + 1):
            nxt = state(pos + 1, (rem * 10 + d) % k, tlo and d == lo_d, thi and d == hi_d)
            if nxt is not None:
                by_next.setdefault(nxt, []).append(d)
        if not by_next:
            memo[key] = None
            return None
        body = " | ".join(f"{_digit_set(ds)} {nxt}".strip() for nxt, ds in by_next.items())
        memo[key] = rules.add(f"{hint}-mod{k}", body)
        return memo[key]

    return state(0, 0, True, True)


def _mod_tail(
    k: int, rem: int, need: int, rules: RuleSet, hint: str, memo: dict[tuple[int, int], str]
) -> str | None:
    """Digit strings of length >= ``need`` taking remainder ``rem`` to 0 (rule name)."""
    key = (rem, need)
    if key in memo:
        return memo[key]
    name = rules.fresh(f"{hint}-mod{k}-tail")
    memo[key] = name
    by_next: dict[str, list[int]] = {}
    for d in range(10):
        nxt = _mod_tail(k, (rem * 10 + d) % k, max(need - 1, 0), rules, hint, memo)
        if nxt is not None:
            by_next.setdefault(nxt, []).append(d)
    alts = [f"{_digit_set(ds)} {nxt}" for nxt, ds in by_next.items()]
    if need == 0 and rem == 0:
        rules.define(name, "| " + " | ".join(alts))
    else:
        rules.define(name, " | ".join(alts))
    return name


def _digit_set(ds: list[int]) -> str:
    if len(ds) == 1:
        return f'"{ds[0]}"'
    if ds == list(range(ds[0], ds[-1] + 1)):
        return f"[{ds[0]}-{ds[-1]}]"
    return "[" + "".join(str(d) for d in ds) + "]"
