"""DeepSeek-V3.2 and V4 tool calls in DSML: a block of ``invoke`` elements whose tags carry the
``｜DSML｜`` marker, each argument saying whether its value is raw text or JSON::

    <｜DSML｜function_calls>
    <｜DSML｜invoke name="NAME">
    <｜DSML｜parameter name="k" string="true">v</｜DSML｜parameter>
    </｜DSML｜invoke>
    </｜DSML｜function_calls>

V3.2 names the block ``function_calls``, V4 ``tool_calls``. The templates build every tag from a
``dsml_token`` variable, so detection looks for the marker and the block's name apart.
"""

from __future__ import annotations

from llamaprov.chat.formats._invoke_blocks import InvokeBlocksFormat
from llamaprov.chat.formats._registry import register_tool_format

DSML = "｜DSML｜"


@register_tool_format
class DeepSeekV32Format(InvokeBlocksFormat):
    """DeepSeek-V3.2: ``<｜DSML｜function_calls>`` around ``<｜DSML｜invoke name="NAME">``
    elements of ``<｜DSML｜parameter name="k" string="true|false">`` (raw text, or JSON)."""

    name = "deepseek-v3.2"
    marker = DSML
    block = "function_calls"
    detect_order = 6

    @classmethod
    def detects(cls, template: str) -> bool:
        return DSML in template and "invoke name=" in template and f"{cls.block}>" in template


@register_tool_format
class DeepSeekV4Format(DeepSeekV32Format):
    """DeepSeek-V4: as V3.2, in a ``<｜DSML｜tool_calls>`` block."""

    name = "deepseek-v4"
    block = "tool_calls"

    @classmethod
    def detects(cls, template: str) -> bool:
        # a V3.2 template mentions its calls' ``tool_calls`` key too, never V4's block
        return super().detects(template) and "function_calls>" not in template
