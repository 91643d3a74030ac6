"""Pack several QA turns about one image into one multi-turn chat sequence with answer-only labels.

The image is encoded once per sequence and every answer is supervised, which is what makes scene-QA
pretraining affordable on a CPU (image tokens dominate the sequence). The text is rendered with the
backbone's own chat template, tokenized once with offsets, and the single image placeholder token is
expanded to the image's token count exactly as the processor does (a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Sequence

from .text import QA

IGNORE_INDEX = -100


def chat_messages(turns: Sequence[QA], *, with_answers: int | None = None) -> list[dict]:
    """Messages for ``turns``: the image goes with the first question; answers up to ``with_answers``."""
    n_answers = len(turns) if with_answers is None else with_answers
    messages: list[dict] = []
    for i, qa in enumerate(turns):
        content = [{"type": "text", "text": qa.question}]
        if i == 0:
            content.insert(0, {"type": "image"})
        messages.append({"role": "user", "content": content})
        if i < n_answers:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": qa.answer}]})
    return messages


class ChatPacker:
    """Turns ``(turns, n_image_tokens)`` into ``input_ids`` and ``labels`` (``-100`` outside answers).

    The supervised span of answer ``i`` runs from the end of the rendered prompt before it (generation
    prompt included) to the end of the rendered conversation after it, so the end-of-turn marker is
    learned too and ``generate()`` stops by itself.
    """

    def __init__(self, *, processor):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.image_token_id = int(processor.image_token_id)

    def render(self, turns: Sequence[QA], *, with_answers: int | None = None, generation_prompt: bool = False) -> str:
        return self.processor.apply_chat_template(
            chat_messages(turns, with_answers=with_answers), tokenize=False, add_generation_prompt=generation_prompt
        )

    def answer_spans(self, turns: Sequence[QA]) -> tuple[str, list[tuple[int, int]]]:
        """(full text, [(start, end) character span of each answer incl. its end-of-turn marker])."""
        from partpoint.errors import BackboneError

        full = self.render(turns)
        spans = []
        for i in range(len(turns)):
            before = self.render(turns[: i + 1], with_answers=i, generation_prompt=True)
            after = self.render(turns[: i + 1], with_answers=i + 1)
            if not (full.startswith(before) and full.startswith(after) and len(after) > len(before)):
                raise BackboneError("the chat template does not render conversations prefix by prefix; use a plain multi-turn template")
            spans.append((len(before), len(after)))
        return full, spans

    def encode(self, turns: Sequence[QA], *, n_image_tokens: int) -> tuple[list[int], list[int]]:
        """-> (input_ids, labels), both of length ``L`` with the image token repeated ``n_image_tokens`` times."""
        from partpoint.errors import BackboneError

        full, spans = self.answer_spans(turns)
        enc = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        input_ids: list[int] = []
        labels: list[int] = []
        span_index = 0
        for token_id, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
            while span_index < len(spans) and start >= spans[span_index][1]:
                span_index += 1
            inside = span_index < len(spans) and start >= spans[span_index][0]
            if span_index < len(spans) and start < spans[span_index][0] < end:
                raise BackboneError("a token straddles the prompt/answer boundary; end the generation prompt with a separator")
            if token_id == self.image_token_id:
                input_ids.extend([token_id] * n_image_tokens)
                labels.extend([IGNORE_INDEX] * n_image_tokens)
                continue
            input_ids.append(token_id)
            labels.append(token_id if inside else IGNORE_INDEX)
        return input_ids, labels
