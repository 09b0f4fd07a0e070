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


# What Hugging Face's renderer allows and real templates use (issue #16): loop controls
# (Command-R7B), the generation block (LFM2), tojson of map/select (DeepSeek R1), |safe that does
# not turn joined text into HTML entities (functionary v3.1).
@pytest.mark.parametrize(("template", "expected"), [
    ("{% for m in messages %}{% if loop.index == 1 %}{% continue %}{% endif %}{{ m.role }}"
     "{% if loop.index == 2 %}{% break %}{% endif %}{% endfor %}", "user"),
    ("{% for m in messages %}{% generation %}<{{ m.content }}>{% endgeneration %}{% endfor %}",
     "<Be brief.><Hi!>"),
    ("{{ messages | map(attribute='role') | tojson }}", '["system", "user"]'),
    ("{{ messages | selectattr('role', 'eq', 'system') | map(attribute='content') | list | tojson }}",
     '["Be brief."]'),
    ("{{ messages | selectattr('role', 'eq', 'system') | tojson }}",
     '[{"role": "system", "content": "Be brief."}]'),
    ("{{ (tools[0] | tojson | safe) + '\"<>' }}", '{"name": "add"}"<>'),
    ("{{ '<tools>' ~ (tools[0] | tojson | safe) }}", '<tools>{"name": "add"}'),
])
def test_hugging_face_jinja_features(model, template, expected):
    out = model.apply_chat_template(MESSAGES, template=template, tools=[{"name": "add"}])
    assert out == expected


def test_tojson_of_a_generator_is_bounded(model):
    big = "{{ range(100000) | map('string') | map('string') | tojson }}"
    assert len(model.apply_chat_template(MESSAGES, template=big)) > 100_000
    huge = "{{ ((range(100000) | list) + (range(100000) | list)) | map('string') | tojson }}"
    with pytest.raises(TemplateError, match="over 100,000 generated items"):
        model.apply_chat_template(MESSAGES, template=huge)


GEMMA2_LIKE = (  # Gemma 2's check, shortened
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n"
    "{{ m.content }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n")
DROPS_SYSTEM = ("{% for m in messages %}{% if m.role != 'system' %}[{{ m.role }}] {{ m.content }}\n"
                "{% endif %}{% endfor %}")


@pytest.mark.parametrize("template", [GEMMA2_LIKE, DROPS_SYSTEM])
def test_a_template_without_a_system_role_gets_the_system_prompt_in_the_first_user_turn(model, template):
    messages = [*MESSAGES, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]
    out = model.apply_chat_template(messages, template=template)
    assert out.count("Be brief.") == 1 and out.index("Be brief.") < out.index("Hi!") < out.index("Bye")
    assert "Be brief.\n\nHi!" in out


def test_a_template_with_a_system_role_keeps_it(model):
    custom = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    assert model.apply_chat_template(MESSAGES, template=custom) == "[system] Be brief.\n[user] Hi!\n"


JOINS_ARGUMENTS = (  # DeepSeek R1 / functionary v3.1: arguments joined to strings
    "{% for m in messages %}{% if m.tool_calls %}{% for t in m.tool_calls %}"
    "{{ '<call>' + t.function.name + ' ' + t.function.arguments + '</call>' }}{% endfor %}"
    "{% else %}{{ m.content }}{% endif %}{% endfor %}")
ITEMS_ARGUMENTS = (  # GLM / Seed-OSS: arguments iterated as a mapping
    "{% for m in messages %}{% if m.tool_calls %}{% for t in m.tool_calls %}"
    "{% for k, v in t.function.arguments.items() %}<{{ k }}>{{ v }}</{{ k }}>{% endfor %}"
    "{% endfor %}{% else %}{{ m.content }}{% endif %}{% endfor %}")
CALL = [{"role": "user", "content": "Add"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "add", "arguments": {"a": 1}}}]}]


def test_tool_call_arguments_are_given_in_the_shape_the_template_takes(model):
    joined = model.apply_chat_template(CALL, template=JOINS_ARGUMENTS, add_generation_prompt=False)
    assert joined == 'Add<call>add {"a": 1}</call>'
    items = model.apply_chat_template(CALL, template=ITEMS_ARGUMENTS, add_generation_prompt=False)
    assert items == "Add<a>1</a>"


ALTERNATING = (  # Gemma-like: user and assistant only, in turn; no tool calls shown
    "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
    "{{ raise_exception('Conversation roles must be user or assistant') }}{% endif %}"
    "{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}")
ROUND = [*CALL, {"role": "tool", "tool_call_id": "1", "name": "add", "content": "2"},
         {"role": "user", "content": "Thanks"}]


def test_a_template_without_tool_roles_gets_calls_and_results_as_json_text(model):
    out = model.apply_chat_template(ROUND, template=ALTERNATING)
    call = '{"tool_calls": [{"name": "add", "arguments": {"a": 1}, "id": "1"}]}'
    result = '{"tool_response": {"tool": "add", "content": "2", "tool_call_id": "1"}}'
    assert out == f"<user>Add</user><assistant>{call}</assistant><user>{result}\n\nThanks</user><assistant>"


def test_a_template_with_tool_roles_keeps_them(model):
    chatml = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}"
              "{% for t in m.tool_calls or [] %}[{{ t.function.name }}]{% endfor %}{% endfor %}")
    out = model.apply_chat_template(ROUND, template=chatml, add_generation_prompt=False)
    assert out == "<user>Add<assistant>[add]<tool>2<user>Thanks"


def test_a_template_may_set_keys_of_a_message_as_llama_cpp_renders_it(model):
    # MiroThinker: {% set message.key = value %}, which Jinja allows on a namespace() only
    template = ("{% for m in messages %}{% set m.shown = m.content | upper %}{{ m.shown }}|{% endfor %}"
                "{% set ns = namespace(n=0) %}{% set ns.n = 2 %}{{ ns.n }}")
    messages = [{"role": "user", "content": "hi"}]
    assert model.apply_chat_template(messages, template=template) == "HI|2"
    assert messages == [{"role": "user", "content": "hi"}]  # the caller's messages are unchanged
    with pytest.raises(TemplateError, match="assigns 'x' on a str object"):
        model.apply_chat_template(messages, template="{% set s = 'a' %}{% set s.x = 1 %}")
