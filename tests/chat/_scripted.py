"""A provider whose reasoning model thinks and answers as a test scripts it (grammars on the
default model), for the reasoning tests of the chat and of the LangChain integration."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llamaprov.chat import LlamaProvider
from llamaprov.engine import SamplingParams


class Scripted(LlamaProvider):
    """A provider whose thinking and answer phases write what the test's grammars say (a real
    model decoding under a grammar: no mock); a phase without a script decodes as usual."""

    def __init__(self, model: Any, *, thinking: str | None = None, answer: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.scripts = thinking, answer

    def _plan(self, *args: Any, **kwargs: Any) -> Any:
        plan = super()._plan(*args, **kwargs)
        thinking, answer = self.scripts
        if answer is not None and plan.answer is not None:
            plan = replace(plan, answer=replace(plan.answer, sampling=_script(answer)))
        elif answer is not None:  # a reply without a thinking phase (off, or a budget of 0)
            plan = replace(plan, sampling=_script(answer))
        if thinking is not None and plan.answer is not None:
            plan = replace(plan, sampling=_script(thinking))
        return plan


def _script(grammar: str) -> SamplingParams:
    # greedy, and " yes" as one token wherever the grammar allows it (the model would rather
    # spell it out from smaller pieces)
    return SamplingParams(temperature=0, grammar=grammar, logit_bias={YES_TOKEN: 30.0})


THOUGHT = "The user adds 2 and 2, which makes 4."
YES = 'root ::= " yes" root'  # thinks " yes" until it is stopped
YES_TOKEN = 9805  # " yes" in the default model's vocabulary
ANSWER = "The answer is 4."
