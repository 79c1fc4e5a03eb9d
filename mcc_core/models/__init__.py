"""The papers' model builders (MobileNetV2 classifier, lightweight CNN, Table 6 baselines),
cross-resolution transfer, saving and loading with a JSON sidecar, and the bundled weights.

Public names load lazily (their list is ``__init__.pyi``); those that need Keras import
TensorFlow when first used.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
