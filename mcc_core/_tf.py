"""The one door to TensorFlow and Keras inside `mcc_core`.

Modules that need Keras import it from here (``from mcc_core._tf import keras, tf``), so the
'tf' extra is checked, and TensorFlow's start-up lines kept off the terminal, in one place
(:func:`evalkit.require_extra`). Importing `mcc_core` itself never gets this far: its public
names load lazily, so the TensorFlow-free parts (patch folders, extraction, scan grids) stay
TensorFlow-free.
"""

from __future__ import annotations

from evalkit import require_extra

require_extra("tf")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["keras", "tf"]
