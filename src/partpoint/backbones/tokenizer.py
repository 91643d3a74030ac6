"""Byte-level BPE tokenizers for tiny backbones, trained locally (nothing comes from a model hub).

Byte-level means every string encodes without unknown tokens: the 256 byte symbols are always in the
vocabulary, merges only shorten sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: A small built-in corpus: enough to learn common English sub-words for pointing prompts and tests.
BUILTIN_CORPUS: tuple[str, ...] = (
    "Point to the handle of the red mug.",
    "Point to the blade of the knife.",
    "Where is the lamp shade? Point to it.",
    "Point to the pole of the blue flag.",
    "Which part of the object would you hold to pour tea?",
    "Point to the part of the car you open to get in.",
    "The wheel, the door, the hood, the bumper and the headlight of a car.",
    "What colour is the handle of the mug? red green blue yellow white black orange purple",
    "How many objects are in the image? one two three four",
    "Is there a knife in the image? yes no",
    "Point to the spout of the kettle. Point to the lid of the pot.",
    "Point to the screen of the laptop. Point to the keyboard of the laptop.",
    "Point to the seat of the chair. Point to the back of the chair. Point to the leg of the table.",
    "Answer with the point (x, y) in pixels of the image.",
    "Describe the image. A photo of a cup on a wooden table next to a bottle and a pair of scissors.",
    "You are a helpful assistant. USER: ASSISTANT: user assistant system",
)


def train_bpe(
    texts: Iterable[str] = BUILTIN_CORPUS,
    *,
    vocab_size: int = 512,
    special_tokens: Sequence[str] = ("<pad>", "<s>", "</s>"),
    bos_token: str | None = "<s>",
    eos_token: str | None = "</s>",
    pad_token: str | None = "<pad>",
):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    ``special_tokens`` get the first ids, in order, and are never split. ``bos_token``, ``eos_token``
    and ``pad_token`` (each must be one of ``special_tokens`` or None) are set on the wrapper.
    Returns a tokenizer with ``len(tokenizer) <= vocab_size + len(special_tokens)``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special_tokens = list(dict.fromkeys(special_tokens))
    for role, token in (("bos_token", bos_token), ("eos_token", eos_token), ("pad_token", pad_token)):
        if token is not None and token not in special_tokens:
            raise ValueError(f"{role} {token!r} is not in special_tokens; add it there")
    byte_alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(byte_alphabet) + len(special_tokens):
        raise ValueError(f"vocab_size {vocab_size} < 256 bytes + {len(special_tokens)} specials; raise vocab_size")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=byte_alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos_token,
        eos_token=eos_token,
        pad_token=pad_token,
        additional_special_tokens=[t for t in special_tokens if t not in (bos_token, eos_token, pad_token)],
    )
