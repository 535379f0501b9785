"""Convert a GGUF model once into a safetensors folder, cached on disk.

transformers parses and dequantizes a GGUF file on every load (~17 s for the
135M default); the dequantized float32 weights saved as safetensors reload in
well under a second with identical logits. The cache folder is named after the
file's content hash, so a changed file never reuses a stale conversion, and it
is written atomically (temporary folder + rename), so an interrupted conversion
never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from fical_secure.cache import CACHE_ENV, cache_root, file_digest
from fical_secure.errors import GenerationError, ModelNotFoundError

MARKER = "fical-gguf-cache.json"  # written last: a folder without it is never used


def cache_dir_for(gguf_file: Path, root: Path | None = None, digest: str | None = None) -> Path:
    """Where the conversion of ``gguf_file`` lives: ``<root>/models/<stem>-<hash16>``."""
    base = (root or cache_root()) / "models"
    return base / f"{gguf_file.stem}-{(digest or file_digest(gguf_file))[:16]}"


def is_complete(folder: Path) -> bool:
    """True when ``folder`` is a finished conversion (its marker was written last)."""
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def ensure_converted(gguf_file: Path, root: Path | None = None) -> Path:
    """Return a safetensors folder equivalent to ``gguf_file``, converting it if needed.

    Raises:
        ModelNotFoundError: ``gguf_file`` does not exist.
        GenerationError: the file could not be parsed or the cache not written.
    """
    if not gguf_file.is_file():
        raise ModelNotFoundError(
            f"GGUF file {gguf_file} does not exist; pass the path of an existing .gguf file"
        )
    digest = file_digest(gguf_file)
    target = cache_dir_for(gguf_file, root, digest)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        _convert(gguf_file, tmp, digest)
        try:
            tmp.rename(target)
        except OSError:
            # another process finished the same conversion first; use theirs
            if not is_complete(target):
                raise
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise GenerationError(
            f"could not convert {gguf_file} into a cache folder under {target.parent}: {exc}; "
            f"check free disk space and write access, or set ${CACHE_ENV} to another folder"
        ) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf_file: Path, out: Path, digest: str) -> None:
    """Dequantize ``gguf_file`` with transformers and save it as safetensors into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    quantized = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, local_files_only=True, dtype=torch.float32
    )
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)  # a plain model: serializable, no GGUF hooks
    config = type(quantized.config).from_dict(config_dict)
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    plain.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    marker = {"source": gguf_file.name, "sha256": digest, "dtype": "float32"}
    (out / MARKER).write_text(json.dumps(marker, sort_keys=True), encoding="utf-8")
