"""Pretraining the default backbones from scratch on scene QA (no coordinates, boxes or masks)."""

from .packing import ChatPacker
from .pool import BatchSampler, ImageRecord
from .recipe import Recipe, default_recipe
from .run import pretrain, toy_recipe
from .text import QA, coordinate_leaks

__all__ = ["QA", "BatchSampler", "ChatPacker", "ImageRecord", "Recipe", "coordinate_leaks", "default_recipe",
           "pretrain", "toy_recipe"]
