"""Explainability views: feature maps, mean F² spectra, filter frequency responses, Grad-CAM.

Public names load lazily (their list is ``__init__.pyi``); those that need Keras import
TensorFlow when first used.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
