"""Patch folders and splits, tf.data pipelines (augmented and on-the-fly synthetic), training
with the papers' metrics, the Table 2 Hyperband search, the cross-resolution experiment.

Public names load lazily (their list is ``__init__.pyi``); those that need Keras import
TensorFlow when first used.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
