"""The `mcc` command line: thin faces over `synth`, `mcc_core` and `evalkit`.

It lives in its own package so that `mcc synth` starts without importing TensorFlow; the
subcommands that need a model import `mcc_core` themselves.
"""

from ._main import entry, main

__all__ = ["entry", "main"]
