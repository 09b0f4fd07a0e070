"""Chat templates: the model's own, overrides, built-ins, and the sandbox."""

from __future__ import annotations

import pytest

from llamaprov import TemplateError, chat_builtin_templates
from llamaprov.errors import InvalidArgumentError

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]


def test_model_template_is_chatml(model):
    template = model.chat_template()
    assert template and "<|im_start|>" in template
    prompt = model.apply_chat_template(MESSAGES)
    assert prompt == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
                      "<|im_start|>assistant\n")
    assert not model.apply_chat_template(MESSAGES, add_generation_prompt=False).endswith("assistant\n")


def test_template_override_and_builtin(model):
    custom = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    assert model.apply_chat_template(MESSAGES, template=custom) == "[system] Be brief.\n[user] Hi!\n"
    names = chat_builtin_templates()
    assert "chatml" in names and "llama3" in names
    llama3 = model.apply_chat_template(MESSAGES, template="llama3")
    assert "<|start_header_id|>user<|end_header_id|>" in llama3
    with pytest.raises(TemplateError):
        model.apply_chat_template(MESSAGES, template="no-such-template")


def test_helpers_available(model):
    t = ("{{ bos_token }}{{ messages | tojson }}{{ strftime_now('%Y') | length }}"
         "{% if tools %}{{ tools[0].name }}{% endif %}")
    out = model.apply_chat_template(MESSAGES, template=t, tools=[{"name": "add"}])
    assert out.startswith("<|im_start|>[{") and out.endswith("4add")
    with pytest.raises(TemplateError, match="no assistant"):
        model.apply_chat_template(MESSAGES, template="{{ raise_exception('no assistant') }}")


@pytest.mark.parametrize("attack", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ raise_exception.__globals__ }}",
    "{{ messages.__class__.__init__.__globals__['os'] }}",
    "{% set x = messages.append(1) %}{{ x }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
])
def test_sandbox_blocks_escapes(model, attack):
    with pytest.raises(TemplateError):
        model.apply_chat_template(MESSAGES, template=attack)


def test_bad_messages(model):
    with pytest.raises(InvalidArgumentError):
        model.apply_chat_template("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        model.apply_chat_template([{"content": "no role"}])
    with pytest.raises(TemplateError):
        model.apply_chat_template(MESSAGES, template="{% for %}")
