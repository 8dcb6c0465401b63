"""Text in and out at the host: the checkpoint's own tokenizer (``tokenizer.json``, ``tokenizers``).

Workers only ever see token ids; the host turns prompts into ids and generated ids back into text.
Chat messages are rendered with the checkpoint's ``chat_template`` (``tokenizer_config.json``,
Jinja, sandboxed) when it has one, else with a plain ``role: content`` transcript. Streaming
detokenisation re-decodes the whole completion and emits the new suffix, holding back an
incomplete UTF-8 sequence, so the streamed pieces always join to the non-streamed text.
"""

from __future__ import annotations

import json
from pathlib import Path

from helix.errors import HelixInputError


class TextCodec:
    def __init__(self, checkpoint: str | Path, vocab_size: int | None = None):
        path = Path(checkpoint) / "tokenizer.json"
        if not path.is_file():
            raise HelixInputError(
                path, None, "tokenizer not found: serving text needs the checkpoint's tokenizer.json"
            )
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise HelixInputError(
                path, None, "the 'tokenizers' package is not installed (pip install helix-workflow[cpu])"
            ) from None
        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises its own exception type
            raise HelixInputError(path, None, f"not a readable tokenizer: {exc}") from None
        n = self.tok.get_vocab_size(with_added_tokens=True)
        if vocab_size is not None and n > vocab_size:
            raise HelixInputError(
                path,
                "vocab",
                f"the tokenizer has {n} tokens, more than the model's vocab_size {vocab_size}",
                n,
            )
        self.chat_template = None
        self.special: dict[str, str] = {}
        cfg_path = Path(checkpoint) / "tokenizer_config.json"
        if cfg_path.is_file():
            try:
                cfg = json.loads(cfg_path.read_text())
            except json.JSONDecodeError as exc:
                raise HelixInputError(
                    cfg_path, None, f"not valid JSON: {exc.msg} at line {exc.lineno}"
                ) from None
            tmpl = cfg.get("chat_template")
            if isinstance(tmpl, list):  # [{"name": "default", "template": ...}, ...]
                tmpl = next(
                    (t.get("template") for t in tmpl if isinstance(t, dict) and t.get("name") == "default"),
                    None,
                )
            if tmpl is not None and not isinstance(tmpl, str):
                raise HelixInputError(cfg_path, "chat_template", "must be a Jinja template string")
            self.chat_template = tmpl
            for k in ("bos_token", "eos_token"):
                v = cfg.get(k)
                v = v.get("content") if isinstance(v, dict) else v
                if isinstance(v, str):
                    self.special[k] = v

    def encode(self, text: str) -> list[int]:
        """Token ids of a prompt, with the tokenizer's special tokens (e.g. BOS) as it adds them."""
        return self.tok.encode(text, add_special_tokens=True).ids

    def encode_chat(self, messages: list[dict]) -> list[int]:
        """A chat rendered to text (its template adds any BOS itself), then tokenised."""
        if self.chat_template:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            text = env.from_string(self.chat_template).render(
                messages=messages, add_generation_prompt=True, **self.special
            )
            return self.tok.encode(text, add_special_tokens=False).ids
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return self.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)


class Detokenizer:
    """Incremental text of a growing token list: ``push(id)`` returns the new text (maybe "")."""

    def __init__(self, codec: TextCodec):
        self.codec, self.ids, self.sent = codec, [], ""

    def push(self, tok: int) -> str:
        self.ids.append(tok)
        text = self.codec.decode(self.ids)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the rest
            return ""
        return self._emit(text)

    def flush(self) -> str:
        return self._emit(self.codec.decode(self.ids))

    def _emit(self, text: str) -> str:
        # Byte-level decoding only ever appends once an incomplete character is held back; should a
        # tokenizer rewrite earlier text, nothing more is sent rather than something wrong.
        new = text[len(self.sent) :] if text.startswith(self.sent) else ""
        self.sent += new
        return new
