"""Write tiny random-weight llama GGUF models for tests (single file or split in parts).

The model has a real SentencePiece-style vocabulary (control tokens, the 256 byte tokens and a few
word pieces), so llama.cpp can tokenize and generate with it; its output is noise. Weights are
deterministic for a given ``seed``. A split model is written as ``<stem>-00001-of-0000N.gguf`` ...
in the naming scheme ``llama_split_path`` uses, with the ``split.*`` keys in every part, so
loading the first part loads them all.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

_SPECIALS = ("<unk>", "<s>", "</s>")
_N_FIXED = len(_SPECIALS) + 256
_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz"


def _vocab(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    tokens = list(_SPECIALS) + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    pieces: list[str] = []
    for c in _WORD_CHARS:
        pieces += [f"▁{c}", c]
    for a in _WORD_CHARS:
        for b in _WORD_CHARS:
            pieces.append(f"▁{a}{b}")
    extra = pieces[: n_vocab - _N_FIXED]
    tokens += extra
    types += [gguf.TokenType.NORMAL] * len(extra)
    scores = [0.0] * _N_FIXED + [-float(i) for i in range(len(extra))]
    return tokens, scores, [int(t) for t in types]


def _tensors(
    rng: np.random.Generator, *, n_vocab: int, n_embd: int, n_layer: int, n_head: int,
    n_head_kv: int, n_ff: int, dtype: type[np.floating],
) -> list[tuple[str, np.ndarray]]:
    """Tensors in llama.cpp's order; numpy shapes are ggml's ``ne`` reversed."""
    n_embd_kv = n_embd // n_head * n_head_kv

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(dtype)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)  # norms stay F32, as llama.cpp's converters write them

    out = [("token_embd.weight", w(n_vocab, n_embd))]
    for i in range(n_layer):
        p = f"blk.{i}."
        out += [
            (p + "attn_norm.weight", ones(n_embd)),
            (p + "attn_q.weight", w(n_embd, n_embd)),
            (p + "attn_k.weight", w(n_embd_kv, n_embd)),
            (p + "attn_v.weight", w(n_embd_kv, n_embd)),
            (p + "attn_output.weight", w(n_embd, n_embd)),
            (p + "ffn_norm.weight", ones(n_embd)),
            (p + "ffn_gate.weight", w(n_ff, n_embd)),
            (p + "ffn_up.weight", w(n_ff, n_embd)),
            (p + "ffn_down.weight", w(n_embd, n_ff)),
        ]
    out += [("output_norm.weight", ones(n_embd)), ("output.weight", w(n_vocab, n_embd))]
    return out


def split_part_paths(path: Path, split_count: int) -> list[Path]:
    """The part file names of ``path`` split in ``split_count`` (``[path]`` when 1)."""
    if split_count == 1:
        return [path]
    stem = path.name[: -len(".gguf")] if path.name.endswith(".gguf") else path.name
    names = (f"{stem}-{i:05d}-of-{split_count:05d}.gguf" for i in range(1, split_count + 1))
    return [path.with_name(n) for n in names]


def write_tiny_llama(
    path: str | Path,
    *,
    n_vocab: int = 320,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    n_ctx_train: int = 512,
    split_count: int = 1,
    f16: bool = False,
    seed: int = 0,
    name: str = "tiny-llama",
    chat_template: str | None = None,
) -> list[Path]:
    """Write a tiny random llama model to ``path`` and return the written files.

    With ``split_count`` > 1 the tensors are spread over that many parts named from ``path``
    (``tiny.gguf`` -> ``tiny-00001-of-00003.gguf`` ...); the first returned path is the one to load.
    ``f16=True`` stores the matrices as F16 (file type MOSTLY_F16), otherwise all is F32.
    """
    path = Path(path)
    max_vocab = _N_FIXED + 2 * 26 + 26 * 26
    if not _N_FIXED < n_vocab <= max_vocab:
        raise ValueError(f"n_vocab must be in [{_N_FIXED + 1}, {max_vocab}], got {n_vocab}")
    if n_embd % n_head or n_head % n_head_kv:
        raise ValueError(f"n_embd ({n_embd}) % n_head ({n_head}) and n_head % n_head_kv must be 0")
    n_tensors = 3 + 9 * n_layer
    if not 1 <= split_count <= n_tensors:
        raise ValueError(f"split_count must be in [1, {n_tensors}], got {split_count}")

    rng = np.random.default_rng(seed)
    dtype = np.float16 if f16 else np.float32
    tensors = _tensors(rng, n_vocab=n_vocab, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                       n_head_kv=n_head_kv, n_ff=n_ff, dtype=dtype)
    tokens, scores, types = _vocab(n_vocab)
    paths = split_part_paths(path, split_count)
    # Spread the tensors as evenly as possible: the first `rem` parts get one more.
    per, rem = divmod(len(tensors), split_count)
    start = 0
    for idx, part in enumerate(paths):
        stop = start + per + (1 if idx < rem else 0)
        writer = gguf.GGUFWriter(part, "llama")
        if idx == 0:
            writer.add_name(name)
            ftype = gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32
            writer.add_file_type(ftype)
            writer.add_context_length(n_ctx_train)
            writer.add_embedding_length(n_embd)
            writer.add_block_count(n_layer)
            writer.add_feed_forward_length(n_ff)
            writer.add_head_count(n_head)
            writer.add_head_count_kv(n_head_kv)
            writer.add_layer_norm_rms_eps(1e-5)
            writer.add_rope_dimension_count(n_embd // n_head)
            writer.add_rope_freq_base(10000.0)
            writer.add_vocab_size(n_vocab)
            writer.add_tokenizer_model("llama")
            writer.add_token_list(tokens)
            writer.add_token_scores(scores)
            writer.add_token_types(types)
            writer.add_unk_token_id(0)
            writer.add_bos_token_id(1)
            writer.add_eos_token_id(2)
            writer.add_add_bos_token(True)
            if chat_template is not None:
                writer.add_chat_template(chat_template)
        if split_count > 1:
            writer.add_uint16(gguf.Keys.Split.LLM_KV_SPLIT_NO, idx)
            writer.add_uint16(gguf.Keys.Split.LLM_KV_SPLIT_COUNT, split_count)
            writer.add_int32(gguf.Keys.Split.LLM_KV_SPLIT_TENSORS_COUNT, len(tensors))
        for tname, data in tensors[start:stop]:
            writer.add_tensor(tname, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        start = stop
    return paths


def write_tiny_lora(path: str | Path, *, n_embd: int = 64, n_layer: int = 2, rank: int = 4,
                    alpha: float = 8.0, seed: int = 0, targets: tuple[str, ...] = ("attn_q", "attn_v"),
                    n_embd_v: int | None = None) -> Path:
    """A LoRA adapter GGUF for :func:`write_tiny_llama`'s model (same n_embd / n_layer).

    ``targets`` name the square projections adapted in every layer; ``n_embd_v`` is attn_v's
    output width (n_embd // n_head * n_head_kv; 32 for the default tiny model).
    """
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    widths = {"attn_q": n_embd, "attn_k": n_embd_v or n_embd // 2, "attn_v": n_embd_v or n_embd // 2,
              "attn_output": n_embd}
    for i in range(n_layer):
        for t in targets:
            n_out = widths[t]
            writer.add_tensor(f"blk.{i}.{t}.weight.lora_a", (rng.standard_normal((rank, n_embd)) * 0.5)
                              .astype(np.float32))
            writer.add_tensor(f"blk.{i}.{t}.weight.lora_b", (rng.standard_normal((n_out, rank)) * 0.5)
                              .astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)


def write_control_vector(path: str | Path, *, n_embd: int = 64, n_layer: int = 2, seed: int = 0,
                         layers: tuple[int, ...] | None = None) -> Path:
    """A control vector in llama.cpp's GGUF format: one ``direction.<layer>`` tensor per layer
    (layers from 1)."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "llama")
    chosen = layers or tuple(range(1, n_layer + 1))
    writer.add_uint32("controlvector.layer_count", len(chosen))
    for layer in chosen:
        writer.add_tensor(f"direction.{layer}", rng.standard_normal(n_embd).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
