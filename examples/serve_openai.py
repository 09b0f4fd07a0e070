"""An OpenAI-compatible server in-process: serve a local model on a free loopback port, ask it
with the ``openai`` client (a plain reply, then a streamed one), stop it.

    pip install "llamaprov[server]" openai
    python examples/serve_openai.py [MODEL.gguf | owner/repo]

From a shell, ``llamaprov serve MODEL`` does the same until Ctrl-C (on 127.0.0.1:8000).
"""

from __future__ import annotations

import sys

import openai

from llamaprov.chat import LlamaProvider
from llamaprov.models import resolve_model
from llamaprov.serve import BackgroundServer, create_app


def main() -> None:
    model = resolve_model(sys.argv[1] if len(sys.argv) > 1 else None)
    # one decode thread is plenty for the small default model, and stays quick on a busy machine
    # (llama.cpp's threads spin while they wait); give a bigger model more
    provider = LlamaProvider(model, n_ctx=2048, max_parallel=4, n_threads=1)
    try:
        with BackgroundServer(create_app(provider, model_id="local")) as server:
            print(f"serving on {server.url}")
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
            reply = client.chat.completions.create(
                model="local", messages=[{"role": "user", "content": "Name three colors."}],
                max_tokens=32, temperature=0)
            print("reply:", reply.choices[0].message.content)
            print("usage:", reply.usage.prompt_tokens, "prompt +", reply.usage.completion_tokens,
                  "completion tokens")
            print("streamed: ", end="", flush=True)
            stream = client.chat.completions.create(
                model="local", messages=[{"role": "user", "content": "Say hello in French."}],
                max_tokens=32, stream=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="", flush=True)
            print()
    finally:
        provider.close()
        model.close()


if __name__ == "__main__":
    main()
