"""Built-in generation backends, registered by name in `sandbox.registry.backends`.

``transformers`` runs a local causal LM (the packaged SmolLM2 by default) and
``openai`` calls any OpenAI-compatible endpoint. Both import their heavy libraries
only when constructed, so importing this package is cheap.
"""

from sandbox.agent import byo, reference
from sandbox.agent.backends import openai_backend, transformers_backend
from sandbox.agent.backends.openai_backend import OpenAIBackend
from sandbox.agent.backends.transformers_backend import TransformersBackend

__all__ = [
    "OpenAIBackend",
    "TransformersBackend",
    "byo",
    "openai_backend",
    "reference",
    "transformers_backend",
]
