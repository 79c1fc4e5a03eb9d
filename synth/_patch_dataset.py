"""Patches rendered on demand, indexable like a sequence: a dataset any framework's loader takes.

`PatchDataset` needs nothing but numpy: a PyTorch ``DataLoader`` (or any loader of map-style
datasets) uses it through ``len`` and ``[i]`` alone, so this module never imports a framework.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._config import SceneConfig, check_resolution, patch_size_px
from ._generate import _render_chunk, check_count, check_seed

Sample = tuple[np.ndarray, int, np.ndarray]
"""(image, label, mask) of one patch, before any transform."""


class PatchDataset:
    """`n` patches of `config`, each rendered when it is asked for, exactly as `generate` would.

    Patch i is drawn from ``numpy.random.default_rng([seed, i])`` alone, by the same code as
    `generate` and `write_dataset`: ``dataset[i]`` holds the bytes of
    ``generate(config, n, resolution_um=resolution_um, seed=seed).images[i]``, whichever
    patches were asked for before, in whichever process. Nothing is cached.

    Parameters
    ----------
    config : SceneConfig
    n : int
        Number of patches (>= 1): the dataset's length.
    resolution_um : int
        50, 70 or 100 (patches of 200, 144 or 100 px).
    seed : int
        Integer >= 0.
    transform : callable, optional
        Called as ``transform(image, label, mask)``; ``dataset[i]`` returns what it returns
        (e.g. tensors, or augmented arrays). It must be picklable (a module-level function
        or class, not a lambda) for loaders that start worker processes.
    channels_first : bool
        Layout of `image` and `mask`: (1, H, W) when True (PyTorch's), (H, W, 1) otherwise.

    Attributes
    ----------
    config, n, resolution_um, seed, transform, channels_first
        As given (validated).

    Returns
    -------
    With no `transform`, ``dataset[i]`` is a tuple ``(image, label, mask)``:

    image : ndarray of shape (1, H, W) or (H, W, 1), float32 in [0, 1]
    label : int
        1 when the patch holds a cluster, else 0 (PyTorch's default collate makes the batch an
        int64 tensor).
    mask : ndarray of the image's shape, float32 in {0, 1}
        1 where an MC reaches half its own peak (``Batch.masks`` as 0/1 floats, ready for a
        pixel-wise loss).

    Raises
    ------
    TypeError
        If `config` is not a SceneConfig, `transform` is neither None nor callable, or
        `channels_first` is not a bool; ``dataset[i]`` with `i` not an integer.
    ValueError
        If `n`, `resolution_um` or `seed` is out of its range.
    IndexError
        ``dataset[i]`` unless ``-n <= i < n``; negative `i` counts from the end, as in a list.

    Notes
    -----
    Loaders that batch call ``__getitems__`` when it exists (PyTorch >= 2.1 does): a batch of
    indices is rendered together, which is faster than one patch at a time and gives the same
    bytes.

    Examples
    --------
    >>> import synth
    >>> dataset = synth.PatchDataset(synth.SceneConfig(), 8, resolution_um=100, seed=3)
    >>> len(dataset)
    8
    >>> image, label, mask = dataset[-1]
    >>> image.shape, image.dtype.name, mask.shape, mask.dtype.name, label in (0, 1)
    ((1, 100, 100), 'float32', (1, 100, 100), 'float32', True)
    >>> batch = synth.generate(synth.SceneConfig(), 8, resolution_um=100, seed=3)
    >>> image[0].tobytes() == batch.images[7].tobytes(), label == int(batch.labels[7])
    (True, True)
    >>> dataset[8]
    Traceback (most recent call last):
    ...
    IndexError: `index` must lie in [-8, 8); got index=8.

    From PyTorch, ``torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2)``
    gives batches of images of shape (4, 1, 100, 100), labels (4,) and masks (4, 1, 100, 100).
    """

    def __init__(self, config: SceneConfig, n: int, *, resolution_um: int, seed: int,
                 transform: Callable[[np.ndarray, int, np.ndarray], Any] | None = None,
                 channels_first: bool = True) -> None:
        if not isinstance(config, SceneConfig):
            raise TypeError(f"`config` must be a SceneConfig; got config={config!r}.")
        if transform is not None and not callable(transform):
            raise TypeError(f"`transform` must be callable or None; got transform={transform!r}.")
        if not isinstance(channels_first, (bool, np.bool_)):
            raise TypeError(
                f"`channels_first` must be True or False; got channels_first={channels_first!r}.")
        self.config = config
        self.n = check_count("n", n)
        self.resolution_um = check_resolution(resolution_um)
        self.seed = check_seed(seed)
        self.transform = transform
        self.channels_first = bool(channels_first)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of every image and mask: (1, H, W) or (H, W, 1)."""
        side = patch_size_px(self.resolution_um)
        return (1, side, side) if self.channels_first else (side, side, 1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The samples of several indices, rendered together (same bytes as one by one)."""
        positions = [self._position(i) for i in indices]
        if not positions:
            return []
        images, masks, _, rows = _render_chunk(self.config, positions, self.resolution_um,
                                               self.seed)
        axis = 1 if self.channels_first else 3  # of (B, H, W): (B, 1, H, W) or (B, H, W, 1)
        images = np.expand_dims(images, axis)
        masks = np.expand_dims(masks.astype(np.float32), axis)
        samples: list[Sample] = [(images[k], int(row[0]), masks[k]) for k, row in enumerate(rows)]
        if self.transform is None:
            return list(samples)
        return [self.transform(*sample) for sample in samples]

    def _position(self, index: Any) -> int:
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"`index` must be an integer; got index={index!r}.") from None
        if not -self.n <= i < self.n:
            raise IndexError(f"`index` must lie in [-{self.n}, {self.n}); got index={i}.")
        return i + self.n if i < 0 else i

    def __repr__(self) -> str:
        extra = f", transform={self.transform!r}" if self.transform is not None else ""
        return (f"PatchDataset(n={self.n}, resolution_um={self.resolution_um}, "
                f"seed={self.seed}, channels_first={self.channels_first}{extra})")
