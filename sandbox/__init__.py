"""persona-sandbox: long-term safety testing of personalized, memory-augmented LLM agents.

The Python API mirrors the command line: load a scenario with
:func:`sandbox.spec.load_bundle`, run it with :func:`sandbox.runner.run_scenario`, and
read the run folder with :mod:`sandbox.record`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
