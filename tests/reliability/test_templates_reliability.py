"""Chat templates are untrusted code: their render time and output size are bounded.

Every bomb runs in a child interpreter (``run_isolated``), so one that got past the sandbox
fails the test instead of eating the machine's memory or hanging pytest.
"""

from __future__ import annotations

import json

import pytest

from llamaprov.engine import templates
from llamaprov.errors import TemplateError

# name -> template; each must fail with a TemplateError, quickly
BOMBS = {
    "string_times": "{{ ('x'*300000000)|length }}",
    "nested_ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "huge_range": "{{ range(10**9)|length }}",
    "power": "{{ 10**(10**8) }}",
    "number_squaring": ("{% set ns = namespace(x=3) %}{% for i in range(100) %}"
                        "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}"),
    "tilde_doubling": ("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                       "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"),
    "plus_doubling": ("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                      "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"),
    "aliased_lists": ("{% set ns = namespace(s=['ab']) %}{% for i in range(60) %}"
                      "{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}"),
    "aliased_dicts": ("{% set ns = namespace(s={'a': 'ab'}) %}{% for i in range(60) %}"
                      "{% set ns.s = {'a': ns.s, 'b': ns.s} %}{% endfor %}{{ ns.s|tojson }}"),
    "center": "{{ 'x'|center(10**10) }}",
    "ljust": "{{ 'x'.ljust(10**10) }}",
    "format_width": "{{ '{:>10000000000}'.format(1) }}",
    "format_nested_width": "{{ '{:{}}'.format(1, 10**10) }}",
    "percent_width": "{{ '%010000000000d' % 1 }}",
    "percent_star": "{{ '%*d' % (10**10, 1) }}",
    "replace": "{{ ('x'*1000000)|replace('x', 'y'*1000) }}",
    "join_aliases": "{{ (['x'*1000000]*1000)|join }}",
    "indent": "{{ ('a\\n'*1000000)|indent(1000) }}",
    "tojson_indent": "{{ [1, 2]|tojson(indent=100000000) }}",
    "sum_of_lists": "{{ ([[1]*4000]*4000)|sum(start=[]) }}",
    "expandtabs": "{{ ('\\t'*1000000).expandtabs(1000) }}",
    "map_center": "{{ ['x']|map('center', 10**10)|list }}",
    "set_block": ("{% set x %}{% for i in range(100000) %}{% for j in range(1000) %}"
                  "0123456789012345678901234567890123456789{% endfor %}{% endfor %}{% endset %}"
                  "{{ x|length }}"),
    "output_loop": "{% for i in range(100000) %}{{ 'x'*1000 }}{% endfor %}",
    "filter_block": ("{% filter upper %}{% for i in range(100000) %}{% for j in range(100) %}"
                     "abcdefghij{% endfor %}{% endfor %}{% endfilter %}"),
    "wide_macro_recursion": ("{% macro f(n) %}{% if n < 40 %}{{ f(n+1) }}{{ f(n+1) }}{% endif %}"
                             "{% endmacro %}{{ f(0) }}"),
    "deep_macro_recursion": "{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}",
    "deep_expression": "{{ " + "(" * 50000 + "1" + ")" * 50000 + " }}",
    "lipsum": "{{ lipsum(10**6) }}",
}

CHILD = """
import json, time
from llamaprov.engine.templates import render_jinja
results = {}
for name, source in json.loads(BOMBS).items():
    start = time.perf_counter()
    try:
        render_jinja(source)
        outcome = "rendered"
    except errors.TemplateError as exc:
        outcome = "TemplateError: " + str(exc)
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    results[name] = [outcome, time.perf_counter() - start]
print(json.dumps(results))
"""


def test_template_bombs_fail_fast_with_template_error(isolated):
    code = f"BOMBS = {json.dumps(json.dumps(BOMBS))}\n" + CHILD
    result = isolated(code, timeout=180)
    outcomes = json.loads(result.lines[-1])
    assert set(outcomes) == set(BOMBS)
    for name, (outcome, seconds) in outcomes.items():
        assert outcome.startswith("TemplateError: chat template"), (name, outcome)
        # the time limit (5 s) plus slack for a loaded machine
        assert seconds < templates.RENDER_TIME_LIMIT + 5, (name, seconds)
    assert "time limit" in outcomes["nested_ranges"][0]
    assert "range(1000000000)" in outcomes["huge_range"][0]
    assert "300,000,000 characters" in outcomes["string_times"][0]
    assert "output exceeds" in outcomes["output_loop"][0]


def test_limits_are_generous_for_real_conversations(model):
    # a long conversation (about 1.2 MB of prompt) with tools renders as before
    messages = [{"role": "system", "content": "Be brief."}]
    messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 1200}
                 for i in range(200)]
    tools = [{"type": "function", "function": {"name": "add", "description": "Add",
                                               "parameters": {"type": "object"}}}]
    prompt = model.apply_chat_template(messages, tools=tools)
    assert len(prompt) > 1_200_000 and prompt.endswith("<|im_start|>assistant\n")
    source = ("{% for m in messages %}{{ '%-10s|' % m.role }}{{ '{:>6}'.format(loop.index) }}"
              "{{ m.content[:5]|center(9) ~ (m.content|length) }}{% endfor %}"
              "{{ tools|tojson(indent=2)|length > 10 }}{{ range(3)|list }}{{ [[1, 2]] * 3 }}")
    out = model.apply_chat_template(messages[:3], template=source, tools=tools)
    assert out == ("system    |     1  Be br  9user      |     2  word   6000"
                   "assistant |     3  word   6000True[0, 1, 2][[1, 2], [1, 2], [1, 2]]")


def test_template_error_names_the_value():
    with pytest.raises(TemplateError, match=r"range\(1000000\)"):
        templates.render_jinja("{% for i in range(1000000) %}{% endfor %}")
    with pytest.raises(TemplateError, match="str \\* 20000000"):
        templates.render_jinja("{{ 'x' * 20000000 }}")
