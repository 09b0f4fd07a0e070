"""llama.cpp's collection of real chat templates on the default model: the table of the closing
note of #16 — per template, the tool-call format detected, whether a tool conversation renders,
and whether a forced tool round trip completes through ``chat_llamaprov(template=T)``.

Run: python bench/chat_templates.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import pathlib
import time

TEMPLATES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "chat_templates"


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


def round_trip(model, source: str) -> str:
    """"ok", or why the forced round trip did not complete."""
    from llamaprov.chat import ContentToolRequest, ContentToolResult, chat_llamaprov

    chat = chat_llamaprov(model, template=source, system_prompt="You are a weather assistant.",
                          params={"temperature": 0, "max_tokens": 96, "reasoning_budget": 8},
                          n_ctx=4096, max_tool_rounds=2)
    chat.register_tool(get_temperature)
    try:
        chat.chat("What is the temperature in Paris?", tool_choice="get_temperature")
        turns = chat.get_turns()
    except Exception as exc:  # the table reports every failure
        return f"{type(exc).__name__}: {str(exc)[:90]}"
    finally:
        chat.close()
    calls = [c for t in turns for c in t.contents if isinstance(c, ContentToolRequest)]
    results = [c for t in turns for c in t.contents if isinstance(c, ContentToolResult)]
    if not calls or calls[0].name != "get_temperature" or not isinstance(calls[0].arguments.get("city"), str):
        return f"no call parsed: {turns[1].text[:60]!r}" if len(turns) > 1 else "no reply"
    if not results or results[0].error is not None:
        return f"tool failed: {results[0].error if results else 'no result'}"
    if turns[-1].role != "assistant" or turns[-1].tool_requests:
        return "no final answer"
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="template file names")
    args = parser.parse_args()

    from llamaprov import default_model_path, load_model
    from llamaprov.chat import ContentToolRequest, ContentToolResult, LlamaProvider, Turn, tool
    from llamaprov.chat.formats import detect_tool_format

    model = load_model(default_model_path())
    turns = [Turn("system", ["You are a weather assistant."]), Turn("user", ["How warm is it in Paris?"]),
             Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
             Turn("user", [ContentToolResult("call00001", value="18", name="get_temperature")]),
             Turn("assistant", ["It is 18 degrees in Paris."]), Turn("user", ["And in Rome?"])]
    paths = sorted(TEMPLATES.glob("*.jinja"))
    if args.only:
        paths = [p for p in paths if p.name in args.only]
    print("| template | detected format | tool conversation renders | forced round trip |")
    print("|---|---|---|---|")
    ok_render = ok_trip = 0
    start = time.perf_counter()
    for path in paths:
        source = path.read_text(encoding="utf-8")
        fmt = detect_tool_format(source).name
        provider = LlamaProvider(model, template=source, n_ctx=4096)
        try:
            prompt = provider.format_turns(turns, [tool(get_temperature)])
            missing = [t for t in ("weather assistant", "How warm", "And in Rome?", "18") if t not in prompt]
            render = f"no: {missing} missing" if missing else "yes"
        except Exception as exc:  # the table reports every failure
            render = f"{type(exc).__name__}: {str(exc)[:90]}"
        finally:
            provider.close()
        trip = round_trip(model, source)
        ok_render += render == "yes"
        ok_trip += trip == "ok"
        print(f"| {path.name} | {fmt} | {render} | {trip} |", flush=True)
    n = len(paths)
    print(f"\n{n} templates in {time.perf_counter() - start:.0f} s: conversation renders {ok_render}/{n}, "
          f"round trip {ok_trip}/{n}")
    model.close()


if __name__ == "__main__":
    main()
