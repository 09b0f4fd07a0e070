"""LangChain's standard test suites (langchain-tests) for ChatLlamaProv and LlamaProvEmbeddings,
run on the packaged default model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
)
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests

from llamaprov.engine import default_model_path
from llamaprov.integrations.langchain import ChatLlamaProv, LlamaProvEmbeddings

_MODEL = {"model": str(default_model_path())}
# Greedy and short: keeps the module fast on 2 cores. A mild repetition penalty stops the 135M
# model from looping inside a JSON string until max_tokens (greedy, without it, "Tell me a joke
# about cats." gave {"setup":"The cat was a cat, and the cat was a cat, and ... cut off).
_CHAT_PARAMS = {**_MODEL, "temperature": 0, "max_tokens": 96, "repeat_penalty": 1.1}


class _Capabilities:
    """Capability flags shared by the unit and integration suites: text only; tool calling,
    tool_choice, structured output, JSON mode and usage metadata all supported."""

    @property
    def chat_model_class(self) -> type[ChatLlamaProv]:
        return ChatLlamaProv

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return dict(_MODEL)

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[str]]:
        return {"invoke": ["cache_read_input"], "stream": ["cache_read_input"]}

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False


class TestChatLlamaProvUnit(_Capabilities, ChatModelUnitTests):
    pass


class TestChatLlamaProvIntegration(_Capabilities, ChatModelIntegrationTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return dict(_CHAT_PARAMS)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> Any:
        """Two calls sharing a prompt prefix: the second reads it from the KV cache."""
        llm = ChatLlamaProv(**_CHAT_PARAMS)
        prefix = "You are a terse assistant. " * 20
        llm.invoke([("system", prefix), ("human", "Say hi.")])
        messages = [("system", prefix), ("human", "Say bye.")]
        if not stream:
            msg = llm.invoke(messages)
        else:
            msg = None
            for chunk in llm.stream(messages):
                msg = chunk if msg is None else msg + chunk
        assert msg.usage_metadata["input_token_details"]["cache_read"] > 0
        return msg


class TestLlamaProvEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[LlamaProvEmbeddings]:
        return LlamaProvEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": str(default_model_path())}


class TestLlamaProvEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[LlamaProvEmbeddings]:
        return LlamaProvEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": str(default_model_path())}
