"""fical_secure.llm: the local LLM interface and its offline transformers backend.

Importing this package is cheap; torch and transformers load on first use.
"""

from fical_secure.llm.base import LLM, LogProbs
from fical_secure.llm.loader import default_gguf_path, load_llm
from fical_secure.llm.transformers_backend import GenerationUsage, TransformersLLM

__all__ = ["LLM", "GenerationUsage", "LogProbs", "TransformersLLM", "default_gguf_path", "load_llm"]
