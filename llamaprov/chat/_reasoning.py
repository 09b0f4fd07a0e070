"""Reasoning models: the chat-template families that think before answering, how a request's
``reasoning`` setting reaches their templates, and where a reply's thinking ends.

A family is recognised from the text of the chat template:

* ``qwen3``: ``<think>...</think>`` with the ``enable_thinking`` template switch (on by
  default); the thinking of the tool round in progress is shown back as ``reasoning_content``
* ``smollm3``: the same switch, and the ``/think`` and ``/no_think`` system-prompt flags, which
  win over it in SmolLM3's template
* ``gpt-oss``: harmony's ``analysis`` channel, ending at ``<|end|>`` before the ``final`` one;
  ``reasoning_effort`` (it always thinks: "off" asks for low effort and closes an empty
  analysis message); thinking goes back as ``thinking``
* ``apriel``: Apriel's free thinking, opened by ``Here are my reasoning steps:`` (the 1.6
  template's generation prompt; added to 1.5's, which does not write it) and ended by
  ``[BEGIN FINAL RESPONSE]``; thinking goes back as ``reasoning_content`` (1.6) or ``thought``
  (1.5), which each template reads
* ``kimi-k3``: Kimi-K3's ``<|open|>think<|sep|>`` element, which its template opens in the
  generation prompt (it thinks by default; "off" closes the element empty and opens the
  ``response`` one, as its history shows a reply without thinking)
* ``solar-open``: Solar Open's ``<|think|>`` message, ending at ``<|end|>`` before the answer's
  ``<|begin|>assistant<|content|>``; the model decides whether to think ("off" closes an empty
  thinking message); thinking goes back as ``reasoning``
* ``atem``: Muse Glimmer's ATEM messages: thinking is a message to the model itself,
  `` to=self<|message|>`` after ``<|start|>assistant``, ending at ``<|eom|>`` before a new
  ``<|start|>assistant`` whose recipient the model picks (`` to=user<|message|>`` for the
  answer); the model decides whether to think, without a switch
* ``think``: any other template that knows a thinking block (``<think>``, ``<thinking>``,
  ``<|START_THINKING|>``, Seed-OSS's ``<seed:think>``, Magistral's ``[THINK]``, Apertus's
  ``<|inner_prefix|>``), with the ``enable_thinking`` switch where the template reads it
  (Apertus): DeepSeek-R1 and QwQ open the block in the generation prompt, others leave it to
  the model

``reasoning="on"`` sets the switch and starts the reply inside a thinking block (the opening
marker is appended to the prompt where the template did not write it); ``"off"`` turns the
switch off and closes an empty thinking block at the end of the prompt; ``"auto"`` leaves the
template's default: a family that thinks by default (Qwen3, SmolLM3, gpt-oss) starts the reply
inside the block, others (``think``) start it where the template's generation prompt does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from llamaprov.chat.formats import THINKING_TAGS, ToolCallFormat
from llamaprov.chat.formats._parser import expand_formatted_markers
from llamaprov.engine import Model


@dataclass(frozen=True)
class ReasoningFamily:
    """How one family of templates marks, switches and shows back a reply's thinking.

    A reply that thinks is ``open + sep + thinking + sep + close + after + answer``.
    """

    name: str
    open: str
    close: str
    sep: str = "\n"
    after: str = "\n\n"
    # template variables for reasoning="on" and "off"
    on: tuple[tuple[str, Any], ...] = ()
    off: tuple[tuple[str, Any], ...] = ()
    # system-prompt flags for "on" and "off"
    flags: tuple[str, str] | None = None
    default_on: bool = False
    # the key of an assistant message's thinking that the template reads
    history_key: str = "reasoning_content"

    @property
    def tag(self) -> tuple[str, str]:
        """The (opening, closing) markers as the stream parser looks for them: the closing one
        takes the text before the answer along where that is not just white space."""
        return self.open, self.close + (self.after if self.after.strip() else "")

    @property
    def closing(self) -> str:
        """What ends a thinking block the model did not close itself (cut off by the budget)."""
        return self.sep + self.close + self.after

    def variables(self, mode: str) -> dict[str, Any]:
        """Template variables for ``mode``."""
        return dict(self.on if mode == "on" else self.off if mode == "off" else ())

    def messages(self, messages: Sequence[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
        """``messages`` with the system flag of ``mode`` (where the family has flags) and each
        assistant message's thinking under the key the template reads."""
        out = [dict(m) for m in messages]
        if self.history_key != "reasoning_content":
            for m in out:
                if m["role"] == "assistant" and "reasoning_content" in m:
                    thinking = m.pop("reasoning_content")
                    # harmony refuses a tool call's message with both (its text is shown as
                    # the analysis then)
                    if not (m.get("tool_calls") and m.get("content")):
                        m[self.history_key] = thinking
        if self.flags and mode != "auto":
            flag = self.flags[0] if mode == "on" else self.flags[1]
            if out and out[0]["role"] == "system":
                text = str(out[0].get("content") or "")
                for f in sorted(self.flags, key=len, reverse=True):
                    text = text.replace(f, "")
                out[0]["content"] = f"{text.rstrip()}\n{flag}" if text.strip() else flag
            else:
                out.insert(0, {"role": "system", "content": flag})
        return out

    def opens(self, prompt: str) -> bool:
        """Whether ``prompt`` ends inside a thinking block (the reply continues it)."""
        return prompt.rfind(self.open) > prompt.rfind(self.close)

    def _closed(self, prompt: str) -> bool:
        """Whether ``prompt`` ends with an empty block the template closed: the closing marker
        right after the opening one (harmony's generation prompt ends with ``<|end|>`` and the
        next message's header, the closing of a family that leaves the channel open, without
        an empty block)."""
        text, tail = prompt.rstrip(), (self.close + self.after).rstrip()
        return text.endswith(tail) and text[:-len(tail)].rstrip().endswith(self.open.rstrip())

    def prepare(self, prompt: str, mode: str) -> str:
        """The rendered ``prompt`` opened or closed for ``mode`` (see the module docstring)."""
        if self.opens(prompt):
            return prompt + self.closing if mode == "off" else prompt
        if self._closed(prompt):
            return prompt  # the template closed an empty block itself (its switch is off)
        if mode == "on" or (mode == "auto" and self.default_on):
            return prompt + self.open + self.sep
        if mode == "off":
            return prompt + self.open + self.sep + self.closing
        return prompt

    def answer_tokens(self, model: Model, prompt: Sequence[int], generated: Sequence[int],
                      text: str, *, stopped: bool, special: bool) -> tuple[list[int], int]:
        """The tokens an answer continues from after a thinking phase, and how many of them are
        generated tokens kept as they are.

        ``generated`` is what the phase decoded after ``prompt``, ``text`` the thinking it
        wrote: without the closing marker when the phase stopped at it (``stopped``), the whole
        output otherwise (then the closing is added). Generated tokens are kept up to the end
        of ``text`` (their cache is reused); the closing marker is written as the family writes
        it, which also ends a phase cut off by its budget.
        """
        data = text.encode()
        n_bytes = kept = 0
        for token in generated:
            piece = model.token_bytes(token, special=special)
            if data[n_bytes:n_bytes + len(piece)] != piece:
                break
            n_bytes += len(piece)
            kept += 1
        rest = data[n_bytes:].decode("utf-8", errors="replace")  # a token that ran into the marker
        tail = rest + (self.close + self.after if stopped else self.closing)
        tokens = [*prompt, *generated[:kept],
                  *model.tokenize(tail, add_special=False, parse_special=True)]
        return tokens, kept


_SWITCH = (("enable_thinking", True),), (("enable_thinking", False),)
QWEN3 = ReasoningFamily("qwen3", "<think>", "</think>", on=_SWITCH[0], off=_SWITCH[1],
                        default_on=True)
SMOLLM3 = ReasoningFamily("smollm3", "<think>", "</think>", on=_SWITCH[0], off=_SWITCH[1],
                          flags=("/think", "/no_think"), default_on=True)
# Solar Open: "<|think|>...<|end|>" is a message of its own, the answer a new one after it;
# reasoning_effort "low" (or "minimal") makes the template close an empty one
SOLAR_OPEN = ReasoningFamily("solar-open", "<|think|>", "<|end|>", sep="",
                             after="<|begin|>assistant<|content|>", history_key="reasoning")
GPT_OSS = ReasoningFamily("gpt-oss", "<|channel|>analysis<|message|>", "<|end|>", sep="",
                          after="<|start|>assistant<|channel|>final<|message|>",
                          off=(("reasoning_effort", "low"),), default_on=True,
                          history_key="thinking")
# Muse Glimmer (ATEM): the reasoning is a message addressed to "self" ("<|start|>assistant
# to=self<|message|>R<|eom|>" in history; the generation prompt ends with "<|start|>assistant")
ATEM = ReasoningFamily("atem", " to=self<|message|>", "<|eom|>", sep="",
                       after="<|start|>assistant to=user<|message|>")
APRIEL = ReasoningFamily("apriel", "Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]",
                         after="\n", default_on=True)


# the text between a block's markers and its thinking, and after its closing marker, where the
# family writes them flush (the default is a newline inside and a blank line after, as <think>)
_TAG_LAYOUT = {"<seed:think>": ("", "\n"), "[THINK]": ("", ""), "<|inner_prefix|>": ("", ""),
               "<think:opensource>": ("", "")}
# the switches of templates that turn thinking on and off by another variable than
# enable_thinking (Hunyuan 3: reasoning_effort "high" or "low", "no_think" its default)
_TAG_SWITCH = {"<think:opensource>": ((("reasoning_effort", "high"),), (("reasoning_effort", "no_think"),))}

# the template's switch (``thinking=false``) opens the response element without a thinking one,
# which prepare() cannot close again: "off" closes the thinking element as its history does
KIMI_K3 = ReasoningFamily("kimi-k3", "<|open|>think<|sep|>", "<|close|>think<|sep|>", sep="",
                          after="<|open|>response<|sep|>", default_on=True)


def detect_reasoning(template: str | None) -> ReasoningFamily | None:
    """The reasoning family of a chat template (see the module docstring); None when the
    template knows no thinking."""
    if not template:
        return None
    template = expand_formatted_markers(template)
    if GPT_OSS.open in template:
        return GPT_OSS
    # Kimi-K3 writes its markers alone and the element's name apart (open_tag('think'))
    if all(m in template for m in ("<|open|>", "<|close|>", "<|sep|>")) and \
            re.search(r"""['"]think['"]""", template):
        return KIMI_K3
    if "<|begin|>assistant<|think|>" in template:
        return SOLAR_OPEN
    if "assistant" + ATEM.open in template:
        return ATEM
    if "<think>" in template and "enable_thinking" in template:
        return SMOLLM3 if "/no_think" in template else QWEN3
    if APRIEL.close in template:  # before <thinking>, which Apriel 1.5's template also knows
        return replace(APRIEL, history_key="thought") if "'thought'" in template else APRIEL
    # a template that knows a marker of its own beside <think> (MiniMax-M3 reads both, and opens
    # <mm:think>) thinks in its own
    for opening, closing in sorted(THINKING_TAGS, key=lambda tag: tag[0] == "<think>"):
        if opening in template:
            switch = _SWITCH if "enable_thinking" in template else _TAG_SWITCH.get(opening, ((), ()))
            sep, after = _TAG_LAYOUT.get(opening, ("\n", "\n\n"))
            return ReasoningFamily("think", opening, closing, sep=sep, after=after,
                                   on=switch[0], off=switch[1])
    return None


def with_tools(family: ReasoningFamily | None, fmt: ToolCallFormat) -> ReasoningFamily | None:
    """``family`` for a request that shows tools in ``fmt``: what follows its thinking as the
    format has it (:meth:`~llamaprov.chat.formats.ToolCallFormat.thinking_after`)."""
    if family is None:
        return None
    after = fmt.thinking_after(family.after)
    return family if after == family.after else replace(family, after=after)


def tool_tags(tags: Sequence[tuple[str, str]], family: ReasoningFamily | None,
              fmt: ToolCallFormat) -> list[tuple[str, str]]:
    """The thinking markers ``tags`` for a reply to a request with tools in ``fmt``: the
    family's closing marker as :func:`with_tools` has it."""
    changed = with_tools(family, fmt)
    if family is None or changed is None:
        return list(tags)
    return [changed.tag if t == family.tag else t for t in tags]


@dataclass(frozen=True)
class Thought:
    """What a thinking phase left for the answer after it: its text, how many tokens it
    generated and how many of them the answer's prompt keeps, and the prompt tokens it found
    cached (None: no thinking was decoded, a budget of 0)."""

    text: str
    n_generated: int
    n_kept: int
    cached: int | None

