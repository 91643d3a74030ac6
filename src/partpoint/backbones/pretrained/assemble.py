"""Assemble ``default-llava`` (DINOv2 ViT-S/14 + SmolLM2-135M-Instruct) into a ``save_pretrained`` folder.

The repository commits only what was trained or chosen here (``assets/backbones/default-llava``):
the LLaVA config, the processor config, the chat template, and ``projector.safetensors`` (the 2-layer
GELU projector and the embedding row of the added ``<image>`` token). The vision tower and the
language model come from the carrier wheels (``carriers.py``). On first use they are converted and
joined into one folder ``$PARTPOINT_HOME/backbones/default-llava-<fingerprint>`` (default
``~/.cache/partpoint``), which plain ``LlavaForConditionalGeneration.from_pretrained`` reads.

The fingerprint hashes the carrier files' sha256, the committed files and the assembly code's
version, so a change to any of them assembles a new folder. The folder is written under a temporary
name, completed with a ``FINGERPRINT`` file and renamed into place; an inter-process file lock makes
a second process wait and then reuse the first one's folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ...errors import WeightsError
from .carriers import DINOV2_VITS14, SMOLLM2_135M_INSTRUCT

#: Bump when the assembly changes what it writes (invalidates every assembled folder).
ASSEMBLY_VERSION = 1
ASSET_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "backbones" / "default-llava"
COMMITTED_FILES = ("config.json", "processor_config.json", "chat_template.jinja", "projector.safetensors")
PROJECTOR_FILE = "projector.safetensors"
IMAGE_TOKEN = "<image>"
IMAGE_ROW_KEY = "image_token_embedding"  # (1, hidden) in projector.safetensors
FINGERPRINT_FILE = "FINGERPRINT"


def partpoint_home() -> Path:
    return Path(os.environ.get("PARTPOINT_HOME") or "~/.cache/partpoint").expanduser()


def check_sources(asset_dir: Path = ASSET_DIR) -> None:
    """WeightsError (one line, with the fix) when a carrier package or a committed file is missing.
    Cheap: nothing is hashed (``source_fingerprint`` also checks the carrier files' sha256)."""
    for carrier in (DINOV2_VITS14, SMOLLM2_135M_INSTRUCT):
        carrier.locate()  # refuses a missing package or file with the install command
    for name in COMMITTED_FILES:
        path = asset_dir / name
        if not path.is_file():
            raise WeightsError(
                f"{path} is missing, so default-llava cannot be assembled; restore it from git or rebuild it "
                "with `bash scripts/build_defaults.sh llava`"
            )


def source_fingerprint(asset_dir: Path = ASSET_DIR) -> str:
    """16 hex digits over the carrier files (sha256 checked), the committed files and ASSEMBLY_VERSION."""
    check_sources(asset_dir)
    digest = hashlib.sha256(f"assembly-v{ASSEMBLY_VERSION}".encode())
    for carrier in (DINOV2_VITS14, SMOLLM2_135M_INSTRUCT):
        carrier.verified_path()  # refuses a file whose size or sha256 differs
        digest.update(f"{carrier.package}=={carrier.version}:{carrier.sha256}".encode())
    for name in COMMITTED_FILES:
        digest.update(name.encode())
        digest.update((asset_dir / name).read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_complete(folder: Path, fingerprint: str) -> bool:
    try:
        return (folder / FINGERPRINT_FILE).read_text().strip() == fingerprint
    except OSError:
        return False


def assembled_dir(name: str = "default-llava", *, asset_dir: Path = ASSET_DIR, progress: bool = True) -> Path:
    """The assembled folder of ``name``, building it first if it is missing or stale (process-safe)."""
    fingerprint = source_fingerprint(asset_dir)
    root = partpoint_home() / "backbones"
    target = root / f"{name}-{fingerprint}"
    if _is_complete(target, fingerprint):
        return target
    with _file_lock(root / f".{name}.lock"):
        if _is_complete(target, fingerprint):  # another process finished it while we waited
            return target
        if target.exists():
            shutil.rmtree(target)  # an incomplete folder (no FINGERPRINT): never renamed into place
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            write_assembled(tmp, asset_dir=asset_dir, progress=progress)
            (tmp / FINGERPRINT_FILE).write_text(fingerprint + "\n")
            for path in (tmp, *tmp.iterdir()):  # mkdtemp makes 0700: let other users of the cache read it
                path.chmod(0o755 if path.is_dir() else 0o644)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for stale in root.glob(f"{name}-*"):  # older fingerprints of the same default
            if stale != target and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    return target


def built_defaults() -> list[dict]:
    """What is assembled under ``$PARTPOINT_HOME/backbones``: name, fingerprint, folder, size, current."""
    root = partpoint_home() / "backbones"
    try:
        current = source_fingerprint()
    except WeightsError:
        current = None
    rows = []
    for folder in sorted(root.glob("default-*")) if root.is_dir() else []:
        fingerprint = folder.name.rsplit("-", 1)[-1]
        if not _is_complete(folder, fingerprint):
            continue
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        rows.append({"name": folder.name[: -len(fingerprint) - 1], "fingerprint": fingerprint, "path": str(folder),
                     "size_mb": round(size / 2**20, 1), "current": fingerprint == current})
    return rows


def llava_tokenizer(gguf_path: Path):
    """SmolLM2's tokenizer with ``<image>`` added as a special token (id = the old vocabulary size)."""
    from .smollm2 import load_smollm2_tokenizer

    tokenizer = load_smollm2_tokenizer(gguf_path)
    tokenizer.add_tokens([IMAGE_TOKEN], special_tokens=True)
    return tokenizer


def assemble_llava(*, asset_dir: Path = ASSET_DIR, projector_state: dict | None = None):
    """-> the fp32 ``LlavaForConditionalGeneration`` (eval) and its tokenizer, from the carriers.

    ``projector_state`` (``linear_{1,2}.{weight,bias}`` + ``image_token_embedding``) replaces the
    committed ``projector.safetensors`` (alignment starts from :func:`initial_projector`).
    """
    import torch
    from safetensors.torch import load_file
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    from .dinov2 import load_dinov2
    from .loading import load_converted
    from .smollm2 import load_smollm2

    config = LlavaConfig.from_json_file(str(asset_dir / "config.json"))
    vision = load_dinov2(DINOV2_VITS14.verified_path())
    gguf_path = SMOLLM2_135M_INSTRUCT.verified_path()
    language = load_smollm2(gguf_path)
    tokenizer = llava_tokenizer(gguf_path)
    if len(tokenizer) != config.text_config.vocab_size or tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) != config.image_token_index:
        raise WeightsError(
            f"the tokenizer has {len(tokenizer)} tokens and <image> = {tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)}, "
            f"but {asset_dir / 'config.json'} says {config.text_config.vocab_size} and {config.image_token_index}"
        )
    if projector_state is None:
        projector_state = load_file(str(asset_dir / PROJECTOR_FILE))
    image_row = projector_state[IMAGE_ROW_KEY].float()  # (1, hidden)

    state = {f"model.vision_tower.{k}": v for k, v in vision.state_dict().items()}
    embed = torch.cat([language.model.embed_tokens.weight.detach(), image_row], dim=0)  # (V + 1, hidden)
    for key, value in language.model.state_dict().items():
        state[f"model.language_model.{key}"] = embed if key == "embed_tokens.weight" else value
    state["lm_head.weight"] = embed
    for key, value in projector_state.items():
        if key != IMAGE_ROW_KEY:
            state[f"model.multi_modal_projector.{key}"] = value.float()
    model = load_converted(lambda: LlavaForConditionalGeneration(config), state,
                           source=f"{asset_dir} with the carrier files")
    model.tie_weights()
    return model, tokenizer


def initial_projector(*, vision_hidden: int, text_hidden: int, embed, seed: int = 0) -> dict:
    """Alignment's starting point: LLaVA-1.5's 2-layer MLP at PyTorch's default init, its output scaled
    to the RMS of the LM's token embeddings (so image tokens enter at the scale text tokens do), and
    the ``<image>`` row at the mean embedding (it is replaced by image features at every image position;
    under tied embeddings it is also an output class that should stay unlikely)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    linear_1, linear_2 = torch.nn.Linear(vision_hidden, text_hidden), torch.nn.Linear(text_hidden, text_hidden)
    for layer in (linear_1, linear_2):
        bound = 1 / layer.in_features**0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return {"linear_1.weight": linear_1.weight.detach(), "linear_1.bias": linear_1.bias.detach(),
            "linear_2.weight": linear_2.weight.detach(), "linear_2.bias": linear_2.bias.detach(),
            IMAGE_ROW_KEY: embed.float().mean(dim=0, keepdim=True)}


def write_assembled(folder: Path, *, asset_dir: Path = ASSET_DIR, progress: bool = True) -> None:
    """Convert the carriers, join them with the committed projector and save everything into ``folder``."""
    if progress:
        print(f"assembling default-llava from {DINOV2_VITS14.package} + {SMOLLM2_135M_INSTRUCT.package} "
              f"into {folder.parent} (once, ~1 min)", flush=True)
    model, tokenizer = assemble_llava(asset_dir=asset_dir)
    model.save_pretrained(folder)
    save_processor_files(tokenizer, folder, asset_dir=asset_dir)


def save_processor_files(tokenizer, folder: Path, *, asset_dir: Path = ASSET_DIR) -> None:
    """The LlavaProcessor's files in ``folder``: ``tokenizer`` plus the committed processor config and chat
    template (ours replace the GGUF's text-only template, which is also dropped from the tokenizer config)."""
    tokenizer.save_pretrained(folder)
    for name in ("processor_config.json", "chat_template.jinja"):
        shutil.copyfile(asset_dir / name, Path(folder) / name)
    tok_config = Path(folder) / "tokenizer_config.json"
    if tok_config.is_file():
        data = json.loads(tok_config.read_text())
        data.pop("chat_template", None)
        tok_config.write_text(json.dumps(data, indent=2))
