"""ChatLlamaProv with LoRA adapters: ``lora=`` on the model, per call (invoke kwargs, ``bind``),
and in ``batch``, on a tiny generated model and an adapter made for it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
import pytest

from llamaprov import ClosedError, InvalidArgumentError, load_model
from llamaprov.integrations.langchain import ChatLlamaProv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama, write_tiny_lora

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("langchain-lora")
    path = write_tiny_llama(d / "tiny.gguf")[0]
    lora = write_tiny_lora(d / "lora.gguf", seed=1)
    with load_model(path) as model:
        yield model, model.load_lora(lora), path, lora


def test_lora_on_the_model_per_call_and_in_batches(tiny) -> None:
    model, adapter, _, _ = tiny
    base = ChatLlamaProv(model=model, chat_template=CHATML, temperature=0, max_tokens=10)
    adapted = ChatLlamaProv(model=model, chat_template=CHATML, temperature=0, max_tokens=10,
                            lora={adapter: 1.0})
    plain = base.invoke("hello there").content
    with_lora = adapted.invoke("hello there").content
    assert with_lora != plain
    assert base.invoke("hello there", lora={adapter: 1.0}).content == with_lora
    assert adapted.bind(lora={}).invoke("hello there").content == plain
    assert [m.content for m in adapted.batch(["hello there", "hello there"])] == [with_lora] * 2
    assert [m.content for m in base.bind(lora={adapter: 1.0}).batch(["hello there"])] == [with_lora]
    assert adapted._identifying_params["lora"] == {"lora.gguf": 1.0}


def test_bad_adapters_are_refused(tiny) -> None:
    model, adapter, path, lora = tiny
    with load_model(path) as other:
        foreign = other.load_lora(lora)
        # pydantic reports a refused field as a ValidationError (a ValueError, as
        # InvalidArgumentError is) with llamaprov's message
        with pytest.raises(ValueError, match=r"lora\.gguf.*not for 'tiny\.gguf'"):
            ChatLlamaProv(model=model, chat_template=CHATML, lora={foreign: 1.0})
        llm = ChatLlamaProv(model=model, chat_template=CHATML, max_tokens=4)
        with pytest.raises(InvalidArgumentError, match=r"lora\.gguf.*not for this provider"):
            llm.invoke("hi", lora={foreign: 1.0})
    with pytest.raises(ValueError, match="finite"):
        ChatLlamaProv(model=model, chat_template=CHATML, lora={adapter: math.nan})
    with pytest.raises(ValueError, match="LoraAdapter"):
        ChatLlamaProv(model=model, chat_template=CHATML, lora={"not an adapter": 1.0})
    gone = model.load_lora(lora)
    gone.close()
    with pytest.raises(ClosedError):
        ChatLlamaProv(model=model, chat_template=CHATML, lora={gone: 1.0})
