"""Every real chat template of tests/data/chat_templates renders a plain conversation."""
from __future__ import annotations

import pytest

from llamaprov.engine import Model
from llamaprov.errors import TemplateError
from tests.chat._template_files import read_template, template_files

_MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "Name a colour."},
]

# Templates that cannot render a plain conversation in a standard Jinja sandbox, with why.
_FAILING = {
    # needs the caller to pass `functions` (and `datetime`) variables
    "fireworks-ai-llama-3-firefunction-v2.jinja":
        "chat template failed: UndefinedError: 'functions' is undefined",
}


def _params() -> list[object]:
    params: list[object] = []
    for file in template_files():
        reason = _FAILING.get(file.name)
        marks = [pytest.mark.xfail(strict=True, raises=TemplateError, reason=reason)] if reason else []
        params.append(pytest.param(file.name, id=file.name, marks=marks))
    return params


def test_collection_is_present() -> None:
    assert len(template_files()) >= 60
    assert set(_FAILING) <= {f.name for f in template_files()}


@pytest.mark.parametrize("name", _params())
def test_template_renders_plain_conversation(model: Model, name: str) -> None:
    prompt = model.apply_chat_template(_MESSAGES, template=read_template(name), add_generation_prompt=True)
    assert isinstance(prompt, str)
    assert "Name a colour." in prompt


@pytest.mark.parametrize("name", list(_FAILING))
def test_failing_templates_fail_with_the_recorded_error(model: Model, name: str) -> None:
    with pytest.raises(TemplateError) as info:
        model.apply_chat_template(_MESSAGES, template=read_template(name), add_generation_prompt=True)
    assert str(info.value) == _FAILING[name]
