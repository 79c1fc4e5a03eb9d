"""The papers' models and protocols, in four rooms by job.

- ``mcc_core.models``: builders for the MobileNetV2 and lightweight CNN classifiers and the
  Table 6 baselines, cross-resolution transfer, saving with a JSON sidecar, the bundled weights;
- ``mcc_core.training``: patch folders and splits, tf.data pipelines (on-the-fly synthetic data
  included), training with the papers' metrics, the Table 2 search, the cross-resolution
  experiment;
- ``mcc_core.scanning``: whole mammograms (the papers' patch extraction, fully-convolutional
  scanning with the case-study overlay and heat map);
- ``mcc_core.explain``: feature maps, spectra and Grad-CAM.

Every public name is importable from ``mcc_core`` itself. Names load lazily (their list is
``__init__.pyi``): ``import mcc_core`` does not import TensorFlow, and the TensorFlow-free parts
(``load_patch_folder``, ``extract_patches``, ``read_annotations``, ``ScanResult`` ...) never do.
The first name that needs Keras imports it, or raises :class:`evalkit.MissingExtraError` naming
the ``tf`` extra when it is not installed.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
