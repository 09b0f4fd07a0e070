"""Integrations on the chat layer: LangChain (``langchain``), embeddings (``embedding``) and a
RAG store (``rag``). Each loads on first use; the public names are re-exported by ``llamaprov``."""
