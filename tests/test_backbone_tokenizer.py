"""Byte-level BPE: no unknown tokens on any text, special tokens kept whole."""

from __future__ import annotations

import pytest

from partpoint.backbones import BUILTIN_CORPUS, train_bpe


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe(BUILTIN_CORPUS, vocab_size=400, special_tokens=["<pad>", "<s>", "</s>", "<image>"])


@pytest.mark.parametrize("text", ["Point to the handle.", "Zeiger auf den Griff ü ß", "把手在哪里？🫖", "\t\n  x"])
def test_any_text_round_trips_without_unknown_tokens(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


def test_special_tokens_are_single_ids_and_merges_shorten_text(tokenizer):
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    ids = tokenizer("<image>Point to the handle.", add_special_tokens=False)["input_ids"]
    assert ids[0] == image_id and ids.count(image_id) == 1
    assert len(ids) < len("Point to the handle.") // 2  # learned merges, not bytes
    assert tokenizer.pad_token == "<pad>" and tokenizer.bos_token == "<s>" and len(tokenizer) <= 404


def test_rejects_a_role_token_missing_from_specials():
    with pytest.raises(ValueError, match="not in special_tokens"):
        train_bpe(bos_token="<bos>")
