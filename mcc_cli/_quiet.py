"""Import TensorFlow with its start-up lines kept off the terminal.

TensorFlow 2.21 prints several lines when it is imported (absl's "All log messages before
absl::InitializeLog()", oneDNN and CUDA probes) before its own logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; they would stand in front of the one-line error
a command prints on bad input. The commands that need Keras call :func:`import_tensorflow`
once their arguments have been checked.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["import_tensorflow"]


def import_tensorflow() -> None:
    """Import TensorFlow (once) with file descriptor 2 pointed at a scratch file.

    C++ logging below errors stays quiet afterwards (``TF_CPP_MIN_LOG_LEVEL=3`` unless set).
    If the import fails, what it printed is written to stderr after all, then the error rises.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
