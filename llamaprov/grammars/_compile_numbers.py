"""Number grammars: ``minimum``/``maximum`` (inclusive or exclusive) and ``multipleOf``, for
integers and numbers, over the digit-level range builders of :mod:`._numbers`."""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import UnsupportedSchemaError
from ._builder import RuleSet, alt, group, literal
from ._keywords import Unsupported, as_decimal
from ._numbers import decimal_range, int_range, multiples_nonneg, nonneg_int_range, same_len
from ._schema import Flat

# multiples of a step between two bounds are listed one by one when there are fewer than this
_EXPAND_LIMIT = 256


def compile_number(s: Flat, ptr: str, integer: bool, rules: RuleSet, unsupported: Unsupported) -> str | None:
    """A number (an integer when ``integer``) valid under ``s``'s bounds and multipleOf; None if none is."""
    kw = s.keywords
    lo = hi = None
    lo_ex = hi_ex = False
    if "minimum" in kw:
        lo = as_decimal(kw["minimum"], "minimum", ptr)
    if "exclusiveMinimum" in kw:
        x = as_decimal(kw["exclusiveMinimum"], "exclusiveMinimum", ptr)
        if lo is None or x >= lo:
            lo, lo_ex = x, True
    if "maximum" in kw:
        hi = as_decimal(kw["maximum"], "maximum", ptr)
    if "exclusiveMaximum" in kw:
        x = as_decimal(kw["exclusiveMaximum"], "exclusiveMaximum", ptr)
        if hi is None or x <= hi:
            hi, hi_ex = x, True
    step: Fraction | None = None
    if "multipleOf" in kw:
        m = as_decimal(kw["multipleOf"], "multipleOf", ptr)
        if m <= 0:
            raise UnsupportedSchemaError("multipleOf", ptr, f"must be > 0, got {m}")
        step = Fraction(m)
    if integer or (step is not None and step.denominator == 1):
        ilo = None if lo is None else (math.floor(lo) + 1 if lo_ex else math.ceil(lo))
        ihi = None if hi is None else (math.ceil(hi) - 1 if hi_ex else math.floor(hi))
        k = 1 if step is None else step.numerator
        if ilo is not None and ihi is not None and ilo > ihi:
            return None
        body = _integers(ilo, ihi, k, ptr, rules, unsupported)
        if body is None:
            return None
        if not integer:  # multiples of an integer step written as numbers: 10, 10.0
            body = f'{group(body)} ("." "0"+)?'
        return rules.add("integer" if integer else "number", body)
    if step is not None:
        d = _decimal_places(step)
        if d is not None and (lo is not None or hi is not None):
            scale = 10**d
            slo = None if lo is None else (math.floor(lo * scale) + 1 if lo_ex else math.ceil(lo * scale))
            shi = None if hi is None else (math.ceil(hi * scale) - 1 if hi_ex else math.floor(hi * scale))
            if slo is not None and shi is not None and slo > shi:
                return None
            body = _scaled_range(slo, shi, d)
            return None if body is None else rules.add("number", body)
        if d is None:
            unsupported("multipleOf", ptr, f"multipleOf {kw['multipleOf']} for numbers")
        else:
            frac = rules.upto("[0-9]", d, "frac")
            return rules.add(
                "number", f'"-"? ("0" | [1-9] [0-9]*) ("." {frac} "0"*)?'.replace("( ", "(")
            )
    if lo is None and hi is None:
        return rules.add("number", '"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?')
    body = decimal_range(lo, lo_ex, hi, hi_ex)
    return None if body is None else rules.add("number", body)


def _integers(
    lo: int | None, hi: int | None, k: int, ptr: str, rules: RuleSet, unsupported: Unsupported
) -> str | None:
    """Integers in [lo, hi] (None: unbounded) that are multiples of k."""
    if k == 1:
        return int_range(lo, hi)
    if lo is not None and hi is not None:
        first = -((-lo) // k) * k
        if first > hi:
            return None
        if (hi - first) // k < _EXPAND_LIMIT:
            return alt([literal(str(v)) for v in range(first, hi + 1, k)])
    if k > 1000:
        unsupported("multipleOf", ptr, f"multipleOf {k} with these bounds")
        return int_range(lo, hi)
    parts = []
    if hi is None or hi >= 0:
        p = multiples_nonneg(k, max(lo, 0) if lo is not None else 0, hi, rules, "int")
        if p:
            parts.append(p)
    if lo is None or lo < 0:
        mag_lo = 1 if hi is None or hi >= 0 else -hi
        p = multiples_nonneg(k, mag_lo, None if lo is None else -lo, rules, "int")
        if p:
            parts.append(f'"-" {group(p)}')
    return alt(parts) if parts else None


def _decimal_places(step: Fraction) -> int | None:
    """d when step == 10**-d."""
    d = 0
    while step.denominator != 1 and d < 20:
        step *= 10
        d += 1
    return d if step == 1 else None


def _scaled_range(lo: int | None, hi: int | None, d: int) -> str | None:
    """JSON numbers (no exponent) whose value times 10**d is an integer in [lo, hi] (None:
    unbounded): the multiples of 10**-d between two bounds."""
    parts = []
    if hi is None or hi >= 0:
        p = _scaled_nonneg(max(lo, 0) if lo is not None else 0, hi, d)
        if p:
            parts.append(p)
    if lo is None or lo < 0:
        p = _scaled_nonneg(1 if hi is None or hi >= 0 else -hi, None if lo is None else -lo, d)
        if p:
            parts.append('"-" ' + group(p))
    return alt(parts) if parts else None


def _scaled_nonneg(lo: int, hi: int | None, d: int) -> str | None:
    scale = 10**d
    if hi is not None and hi < lo:
        return None
    a, fa = divmod(lo, scale)
    parts = []

    def branch(int_expr: str | None, frac: str | None) -> None:
        if int_expr is not None and frac is not None:
            parts.append(f"{group(int_expr)} {frac}".strip())

    if hi is None:
        branch(f'"{a}"', _scaled_frac(fa, scale - 1, d))
        branch(nonneg_int_range(a + 1, None), _scaled_frac(0, scale - 1, d))
        return alt(parts) if parts else None
    b, fb = divmod(hi, scale)
    if a == b:
        branch(f'"{a}"', _scaled_frac(fa, fb, d))
    else:
        branch(f'"{a}"', _scaled_frac(fa, scale - 1, d))
        if b - 1 >= a + 1:
            branch(nonneg_int_range(a + 1, b - 1), _scaled_frac(0, scale - 1, d))
        branch(f'"{b}"', _scaled_frac(0, fb, d))
    return alt(parts) if parts else None


def _scaled_frac(lo: int, hi: int, d: int) -> str | None:
    """The fraction text (with its ".", or none) of values whose first d fraction digits, as an
    integer, are in [lo, hi] and whose later digits are zeros."""
    opts = [""] if lo == 0 else []
    for j in range(1, d + 1):
        unit = 10 ** (d - j)
        t_lo, t_hi = -(-lo // unit), hi // unit
        if t_lo > t_hi:
            continue
        digits = same_len(str(t_lo).zfill(j), str(t_hi).zfill(j))
        opts.append(f'"." {group(digits)}' + (' "0"*' if j == d else ""))
    return alt(opts) if opts else None
