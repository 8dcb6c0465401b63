"""A tiny random LLaMA checkpoint made with ``transformers`` and a tokenizer made with ``tokenizers``,
for the prototype's checkpoint, parity and endpoint tests (imported by them; not a test module).

GQA (4 heads, 2 KV heads), 6 layers, hidden 64, saved as exactly two safetensors shards with
``model.safetensors.index.json``; a byte-level BPE tokenizer trained here on a few sentences
(``tokenizer.json``) with ``<s>`` prepended, and a chat template in ``tokenizer_config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "Helix serves large language models over heterogeneous GPUs and networks.",
    "The placement is found by max-flow over a graph of machines and links.",
    "Each worker holds a contiguous range of layers and the KV cache never moves.",
    "Requests are routed through the cluster by interleaved weighted round robin.",
    "hello world, the quick brown fox jumps over the lazy dog 0123456789",
]
CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"
LAYERS = 6


def make_tokenizer(path: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "chat_template": CHAT_TEMPLATE}
        )
    )


def make_checkpoint(path: Path, seed: int = 0, dtype: str = "float32", tokenizer: bool = True):
    """Save the model under ``path`` and return it (LlamaForCausalLM, eval mode, fp32)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=320,
        max_position_embeddings=96,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        initializer_range=0.1,
    )
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # non-trivial norm weights, so loading them is tested too
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    save = model.to(getattr(torch, dtype)) if dtype != "float32" else model
    save.save_pretrained(
        path, max_shard_size=int(total * {"float32": 1, "float16": 0.5, "bfloat16": 0.5}[dtype] * 0.6)
    )
    if dtype != "float32":
        model = model.float()
    shards = sorted(p.name for p in path.glob("*.safetensors"))
    assert len(shards) == 2, shards
    if tokenizer:
        make_tokenizer(path, 320)
    return model
