"""The recipe that made default-llava's projector: corpus, alignment, report (``python -m recipe``)."""
