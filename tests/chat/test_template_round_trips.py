"""llama.cpp's collection of real chat templates (tests/data/chat_templates/) through the chat
layer on the default model: each renders a tool conversation and completes a forced tool round
trip with ``chat_llamaprov(template=T)``, and its family is detected."""

from __future__ import annotations

import json

import pytest
from _template_files import read_template, template_files

from llamaprov.chat import (
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    Turn,
    chat_llamaprov,
    tool,
)
from llamaprov.chat.formats import detect_tool_format

NAMES = [p.name for p in template_files()]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


TOOLS = [tool(get_temperature)]


def conversation() -> list[Turn]:
    return [
        Turn("system", ["You are a weather assistant."]),
        Turn("user", ["How warm is it in Paris?"]),
        Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
        Turn("user", [ContentToolResult("call00001", value="18", name="get_temperature")]),
        Turn("assistant", ["It is 18 degrees in Paris."]),
        Turn("user", ["And in Rome?"]),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_tool_conversation_renders(model, name: str) -> None:
    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    try:
        prompt = provider.format_turns(conversation(), TOOLS)
    finally:
        provider.close()
    # every message reaches the prompt: the system text, both questions, the call, its result
    for text in ("weather assistant", "How warm is it in Paris?", "And in Rome?", "18"):
        assert text in prompt, f"{text!r} missing from the prompt"
    assert "Paris" in prompt.split("How warm is it in Paris?", 1)[1]  # the call's argument


@pytest.mark.parametrize("name", NAMES)
def test_a_forced_tool_round_trip(model, name: str) -> None:
    # the default model does not think: where the template opens a thinking block, a budget
    # closes it and the forced call follows (without one the thinking takes max_tokens)
    chat = chat_llamaprov(model, template=read_template(name), system_prompt="You are a weather assistant.",
                          params={"temperature": 0, "max_tokens": 96, "reasoning_budget": 8},
                          n_ctx=4096, max_tool_rounds=2)
    chat.register_tool(get_temperature)
    try:
        answer = chat.chat("What is the temperature in Paris?", tool_choice="get_temperature")
        turns = chat.get_turns()
    finally:
        chat.close()
    calls = [c for t in turns for c in t.contents if isinstance(c, ContentToolRequest)]
    results = [c for t in turns for c in t.contents if isinstance(c, ContentToolResult)]
    assert calls and calls[0].name == "get_temperature" and isinstance(calls[0].arguments.get("city"), str)
    assert results and results[0].error is None and json.dumps(results[0].value) == '"18"'
    assert turns[-1].role == "assistant" and not turns[-1].tool_requests and answer == turns[-1].text


# the format detected for each template; "generic" where the template has no tool syntax
DETECTED = {
    "Apertus-8B-Instruct.jinja": "apertus",
    "Apriel-1.6-15b-Thinker-fixed.jinja": "apriel",
    "Bielik-11B-v3.0-Instruct.jinja": "hermes",
    "ByteDance-Seed-OSS.jinja": "seed_oss",
    "Cohere2MoE.jinja": "command_r7b",
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja": "command_r_plus",
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": "command_r7b",
    "DeepSeek-V3.2.jinja": "deepseek-v3.2",
    "GLM-4.6.jinja": "glm",
    "GLM-4.7-Flash.jinja": "glm",
    "GigaChat3-10B-A1.8B.jinja": "gigachat-v3",
    "GigaChat3.1-10B-A1.8B.jinja": "gigachat-v3.1",
    "GigaChat3.5.jinja": "gigachat-v3.5",
    "HuggingFaceTB-SmolLM3-3B.jinja": "generic",
    "Kimi-K2-Instruct.jinja": "kimi-k2",
    "Kimi-K2-Thinking.jinja": "kimi-k2",
    "Kimi-K3.jinja": "kimi-k3",
    "LFM2-8B-A1B.jinja": "lfm2",
    "LFM2.5-8B-A1B.jinja": "lfm2",
    "LFM2.5-Instruct.jinja": "lfm2",
    "MiMo-VL.jinja": "hermes",
    "MiniMax-M2.jinja": "minimax",
    "MiniMax-M3.jinja": "minimax",
    "MiroThinker-v1.jinja": "hermes",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": "mistral_args",
    "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja": "qwen3_coder",
    "NVIDIA-Nemotron-Nano-v2.jinja": "nemotron",
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": "hermes",
    "Qwen-QwQ-32B.jinja": "hermes",
    "Qwen-Qwen2.5-7B-Instruct.jinja": "hermes",
    "Qwen-Qwen3-0.6B.jinja": "hermes",
    "Qwen3-Coder.jinja": "qwen3_coder",
    "Qwen3.5-4B.jinja": "qwen3_coder",
    "Reka-Edge.jinja": "hermes",
    "Spark2.5.jinja": "glm",
    "StepFun3.5-Flash.jinja": "qwen3_coder",
    "StepFun3.7-Flash.jinja": "qwen3_coder",
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": "deepseek-r1",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": "deepseek-r1",
    "deepseek-ai-DeepSeek-V3.1.jinja": "deepseek-v3.1",
    "deepseek-ai-DeepSeek-V3.2.jinja": "deepseek-v3.2",
    "deepseek-ai-DeepSeek-V4-Flash-0731.jinja": "deepseek-v4",
    "deepseek-ai-DeepSeek-V4.jinja": "deepseek-v4",
    "fireworks-ai-llama-3-firefunction-v2.jinja": "firefunction",
    "gemma4.jinja": "gemma4",
    "glm_4_5.jinja": "glm",
    "google-gemma-2-2b-it.jinja": "generic",
    "google-gemma-4-31B-it-interleaved.jinja": "gemma4",
    "google-gemma-4-31B-it.jinja": "gemma4",
    "inclusionai-ling-3.0-flash.jinja": "glm",
    "ibm-granite-granite-3.3-2B-Instruct.jinja": "granite",
    "ibm-granite-granite-4.0.jinja": "hermes",
    "ibm-granite-granite-4.1.jinja": "hermes",
    "llama-cpp-deepseek-r1.jinja": "deepseek-r1",
    "llama-cpp-lfm2.jinja": "lfm2",
    "llama-cpp-microsoft-Phi-4-mini-instruct.jinja": "phi4",
    "llama-cpp-rwkv-world.jinja": "generic",
    "meetkai-functionary-medium-v3.1.jinja": "functionary_v31",
    "meetkai-functionary-medium-v3.2.jinja": "functionary",
    "meta-llama-Llama-3.1-8B-Instruct.jinja": "llama3",
    "meta-llama-Llama-3.2-3B-Instruct.jinja": "llama3",
    "meta-llama-Llama-3.3-70B-Instruct.jinja": "llama3",
    "microsoft-Phi-3.5-mini-instruct.jinja": "generic",
    "mistralai-Ministral-3-14B-Reasoning-2512.jinja": "mistral_args",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": "mistral",
    "mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja": "mistral",
    "moonshotai-Kimi-K2-Thinking.jinja": "kimi-k2",
    "moonshotai-Kimi-K2.jinja": "kimi-k2",
    "muse-glimmer.jinja": "atem",
    "nvidia-Llama-3_3-Nemotron-Super-49B-v1_5.jinja": "nemotron",
    "openai-gpt-oss-120b.jinja": "harmony",
    "openbmb-MiniCPM5-1B.jinja": "minicpm5",
    "poolside-Laguna-S-2.1.jinja": "glm",
    "stepfun-ai-Step-3.5-Flash.jinja": "qwen3_coder",
    "tencent-Hy3.jinja": "hunyuan3",
    "unsloth-Apriel-1.5.jinja": "apriel",
    "unsloth-MiniMax-M2.jinja": "minimax",
    "unsloth-mistral-Devstral-Small-2507.jinja": "mistral_args",
    "upstage-Solar-Open-100B.jinja": "solar_open",
}


def test_each_template_is_detected_as_its_family() -> None:
    assert set(DETECTED) == set(NAMES)
    detected = {n: detect_tool_format(read_template(n)).name for n in NAMES}
    assert detected == DETECTED
