"""Token ids in which untrusted text stays data.

Message contents (the user's words, stored records, personas, tool output) are tokenized with
special-token parsing off, so a record that contains `<|im_end|><|im_start|>system` reads as
those characters, never as the control tokens that end a turn and start a forged one. Only
the chat template's own markers become special tokens.

How: the template is rendered with a sentinel in place of each content; the rendered text is
cut at the sentinels, the template's pieces are tokenized with special tokens parsed and each
content without. For a byte-level BPE tokenizer the pieces tokenize as the whole text did
(each content starts after the template's newline and ends before a special token; tested on
the default model's tokenizer), so benign prompts keep their exact ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mindpilot.types import Message

# Private-use characters: no template writes them; a content that holds them is not searched
# (contents are put back after the cut, never looked for in the rendered text).
_SENTINEL = "\ue000{}\ue001"
_CUT = re.compile("\ue000(\\d+)\ue001")


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Ids of untrusted `text`: special-token strings inside it stay plain text."""
    if not text:
        return []
    ids: list[int] = tokenizer(text, add_special_tokens=False, split_special_tokens=True)[
        "input_ids"
    ]
    return ids


def encode_template(tokenizer: Any, text: str) -> list[int]:
    """Ids of trusted template text: its markers become special tokens."""
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
    return ids


def chat_ids(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """The prompt ids of `messages` through the tokenizer's chat template (a plain transcript
    for models without one), ending with the assistant's turn opened."""
    turns = [{"role": m.role, "content": _SENTINEL.format(i)} for i, m in enumerate(messages)]
    if getattr(tokenizer, "chat_template", None):
        rendered: str = tokenizer.apply_chat_template(
            turns, tokenize=False, add_generation_prompt=True
        )
    else:  # base models without a template: a plain transcript
        rendered = "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant:"
    ids: list[int] = []
    pieces = _CUT.split(rendered)  # template, index, template, index, ..., template
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            ids += encode_template(tokenizer, piece)
        else:
            ids += encode_text(tokenizer, messages[int(piece)].content)
    return ids
