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

# Variables a template reads from its runtime, not from the conversation (the chat layer's
# tool format supplies them: FirefunctionFormat.template_variables); without them it fails
# with the recorded error
_RUNTIME = {
    "fireworks-ai-llama-3-firefunction-v2.jinja": (
        {"functions": "[]", "datetime": "Dec 02 2026 12:00:00 GMT"},
        "chat template failed: UndefinedError: 'functions' is undefined",
    ),
}


def test_collection_is_present() -> None:
    assert len(template_files()) >= 60
    assert set(_RUNTIME) <= {f.name for f in template_files()}


@pytest.mark.parametrize("name", [f.name for f in template_files()])
def test_template_renders_plain_conversation(model: Model, name: str) -> None:
    extra = _RUNTIME[name][0] if name in _RUNTIME else {}
    prompt = model.apply_chat_template(_MESSAGES, template=read_template(name), add_generation_prompt=True,
                                       **extra)
    assert isinstance(prompt, str)
    assert "Name a colour." in prompt


@pytest.mark.parametrize("name", list(_RUNTIME))
def test_without_its_runtime_variables_a_template_fails_with_the_recorded_error(model: Model,
                                                                                 name: str) -> None:
    with pytest.raises(TemplateError) as info:
        model.apply_chat_template(_MESSAGES, template=read_template(name), add_generation_prompt=True)
    assert str(info.value) == _RUNTIME[name][1]
