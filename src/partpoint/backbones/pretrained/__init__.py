"""The real default backbone: DINOv2 ViT-S/14 + SmolLM2-135M-Instruct as a LLaVA, from registry wheels.

``carriers`` finds and checks the pinned weight files, ``dinov2`` and ``smollm2`` convert them into
transformers classes, ``assemble`` joins them with the projector trained here (committed under
``assets/backbones/default-llava``) into one ``save_pretrained`` folder under ``PARTPOINT_HOME``.
"""
