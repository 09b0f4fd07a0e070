"""Retrieval-augmented generation over a folder: index its files, then let the model search them.

    python examples/rag_folder.py [MODEL.gguf | owner/repo]

The script writes a few small notes into a temporary folder (your own folder of .txt, .md or
.html files works the same way), embeds their chunks into a ``RagStore`` (one SQLite file, in
that temporary folder too), and registers a ``search_documents`` tool on a chat. The model calls
the tool, reads the passages it returns and answers from them. Nothing is left on disk.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from llamaprov import default_model_path, load_model
from llamaprov.chat import TextDelta, ToolRequestDone, ToolResultEvent, chat_llamaprov
from llamaprov.integrations.embedding import embed_llamaprov
from llamaprov.integrations.rag import RagStore, read_document, register_retrieve_tool

NOTES = {
    "library.md": "# Harbor Street Library\n\nOpening hours: Monday to Friday 9:00 to 18:00. "
                  "On Sundays the library opens at 11:30 and closes at 16:00.\n",
    "bakery.txt": "Ovenlight Bakery sells rye bread and cinnamon buns. "
                  "It is closed on Mondays.\n",
    "garden.md": "# Community garden\n\nThe community garden plants tomatoes in May "
                 "and holds a harvest fair in September.\n",
}
QUESTION = "When does the Harbor Street library open on Sundays?"


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else default_model_path()
    with tempfile.TemporaryDirectory(prefix="llamaprov-rag-") as tmp, load_model(path) as model:
        folder = Path(tmp) / "notes"
        folder.mkdir()
        for name, text in NOTES.items():
            (folder / name).write_text(text, encoding="utf-8")

        # 1. Ingest: read each file, chunk it, embed the chunks with the same local model.
        embed = embed_llamaprov(model)  # a Model passed in is shared, not loaded again
        store = RagStore.create(Path(tmp) / "notes.ragstore", embed=embed)
        store.insert([read_document(p) for p in sorted(folder.iterdir())])
        print(f"indexed {store.n_documents} documents from {folder.name}/")

        # 2. Search the store directly: hybrid search (BM25 and vectors), best passage first.
        for hit in store.retrieve(QUESTION, k=2):
            print(f"hit {Path(hit.source or '?').name}: {hit.text.splitlines()[-1][:70]}")

        # 3. A chat with the retrieval tool: search_documents(query) returns the best passages.
        chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 48}, max_tool_rounds=2)
        register_retrieve_tool(chat, store, k=3)

        # 4. Ask. tool_choice="required" makes the first reply a search; the model then answers
        # from what the search returned. (A 135M model writes poor search queries; a larger
        # one, e.g. "Qwen/Qwen3-0.6B-GGUF", writes real ones and answers better.)
        for event in chat.stream(QUESTION, content=True, tool_choice="required"):
            if isinstance(event, ToolRequestDone):
                print(f"[call] {event.request.name}({event.request.arguments})")
            elif isinstance(event, ToolResultEvent):
                print("[result]\n" + event.result.as_text().replace(tmp, "<tmp>"))
            elif isinstance(event, TextDelta):
                print(event.text, end="", flush=True)
        print()
        chat.close()
        store.close()
        embed.close()


if __name__ == "__main__":
    main()
