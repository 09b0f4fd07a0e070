"""The invoke-block syntax shared by GigaChat 3.5 (GCML) and DeepSeek V3.2 / V4 (DSML): a block
of ``invoke`` elements whose tags carry a fullwidth-bar marker, each argument a ``parameter``
element that says whether its value is raw text (``string="true"``) or JSON::

    <｜M｜tool_calls>
    <｜M｜invoke name="NAME">
    <｜M｜parameter name="k" string="true">v</｜M｜parameter>
    </｜M｜invoke>
    </｜M｜tool_calls>

A format sets :attr:`InvokeBlocksFormat.marker` (``｜GCML｜``) and :attr:`~InvokeBlocksFormat.block`
(``tool_calls``); the texts of :class:`~llamaprov.chat.formats._xml_args.XmlArgsFormat` follow.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llamaprov.chat.formats._base import ToolCallFormat
from llamaprov.chat.formats._xml_args import XmlArgsFormat
from llamaprov.chat.turns import Turn


class InvokeBlocksFormat(XmlArgsFormat):
    """Calls in a ``<{marker}{block}>`` element of ``<{marker}invoke name="NAME">`` elements."""

    # the fullwidth-bar marker inside every tag (``｜GCML｜``) and the name of the block's tag
    marker: ClassVar[str] = ""
    block: ClassVar[str] = "tool_calls"
    arg_kinds = ("true", "false")
    call_sep = "\n"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.marker:
            return
        m = cls.marker
        cls.triggers = (f"<{m}{cls.block}>",)
        cls.wrap = (f"<{m}{cls.block}>\n", f"\n</{m}{cls.block}>")
        cls.call_head = f'<{m}invoke name="{{name}}">\n'
        cls.arg_head = f'<{m}parameter name="{{key}}" string="{{kind}}">'
        cls.value_close = f"</{m}parameter>"
        cls.call_tail = f"</{m}invoke>"

    def call_example(self) -> str:
        m = self.marker
        return (f'{self.wrap[0]}<{m}invoke name="<tool name>">\n<{m}parameter name="<parameter '
                f'name>" string="<true for a text value, false for JSON>"><value>{self.value_close}'
                f"\n{self.call_tail}{self.wrap[1]}")

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        # the templates write each argument by its type themselves (string="true" for a str)
        return ToolCallFormat.assistant_message(self, turn)
