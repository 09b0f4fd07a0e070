"""property_order="any" for objects listing more than 7 properties: the keys that must be counted
(required ones, dependencies) in any order; the other optional keys in definition order among
themselves (strict), or free where one may repeat (approximate mode, caught by
CompiledSchema.check)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llamaprov.grammars import GrammarMatcher, compile_schema

REQUIRED = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcdefgh"},
            "required": list("abcdefgh"), "additionalProperties": False}
MIXED = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcdefghij"},
         "required": ["c", "h"], "dependentRequired": {"j": ["a"]}, "additionalProperties": False}


def _accepts(schema: Any, texts: list[str], approximate: bool = False) -> list[bool]:
    compiled = compile_schema(schema, whitespace="compact", property_order="any", approximate=approximate)
    with GrammarMatcher(compiled.grammar) as m:
        return [m.accepts(t) for t in texts]


def _obj(keys: str) -> str:
    return json.dumps({k: 1 for k in keys}, separators=(",", ":"))


def test_eight_required_keys_in_any_order() -> None:
    texts = [_obj("abcdefgh"), _obj("hgfedcba"), _obj("badcfehg"), _obj("abcdefg"),
             '{"a":1,"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1}']
    assert _accepts(REQUIRED, texts) == [True, True, True, False, False]
    assert compile_schema(REQUIRED, property_order="any", approximate=True).exact


def test_tracked_keys_any_order_optional_ones_in_definition_order() -> None:
    texts = [_obj("ch"), _obj("hc"), _obj("hbcd"), _obj("jhca"), _obj("jhc"), _obj("hcdb"), _obj("hc")]
    texts[-1] = '{"h":1,"b":1,"c":1,"b":2}'
    assert _accepts(MIXED, texts) == [True, True, True, True, False, False, False]


def test_approximate_mode_frees_optional_keys_and_check_refuses_duplicates() -> None:
    texts = [_obj("ch"), _obj("hcdb"), _obj("jhca"), _obj("jhc"), '{"h":1,"b":1,"c":1,"b":2}']
    assert _accepts(MIXED, texts, approximate=True) == [True, True, True, False, True]
    compiled = compile_schema(MIXED, whitespace="compact", property_order="any", approximate=True)
    assert compiled.approximated_keywords == ("properties",)
    assert compiled.check(texts[1], MIXED) == {"h": 1, "c": 1, "d": 1, "b": 1}
    with pytest.raises(ValueError, match="duplicate key 'b'"):
        compiled.check(texts[4], MIXED)
    with pytest.raises(ValueError, match="not valid"):
        compiled.check('{"c":1}', MIXED)


def test_too_many_tracked_keys_keep_definition_order() -> None:
    schema = {"type": "object", "properties": {f"p{i:02}": {"type": "integer"} for i in range(12)},
              "required": [f"p{i:02}" for i in range(12)]}
    in_order = json.dumps({f"p{i:02}": 1 for i in range(12)}, separators=(",", ":"))
    swapped = in_order.replace('"p00"', '"tmp"').replace('"p01"', '"p00"').replace('"tmp"', '"p01"')
    assert _accepts(schema, [in_order, swapped]) == [True, False]
