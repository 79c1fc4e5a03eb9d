"""The lightweight CNN's Table 1 variants with max-pooling layers (seed 001).

The paper's best network has no pooling between its convolutions ("full scale"): two 9 × 9
convolutions give a receptive field of 17 px (1.2 mm at 70 µm), so global max pooling sees
single MCs, not clusters. Table 1's first row puts a max-pooling layer after each
convolution (5 × 5 kernels, 6 and 16 filters, 2,589 parameters); pooling adds no
parameters but widens the receptive field, which is what the study's variants test.
"""

from __future__ import annotations

from mcc_core._tf import keras
from mcc_core.models._builders import _check_dropout, _check_int, _check_pair

__all__ = ["build_pooled_cnn", "receptive_field_px"]


def receptive_field_px(kernel_sizes: tuple[int, int], pool_size: int) -> int:
    """Receptive field in pixels of conv → pool → conv → pool (stride = pool size).

    Examples
    --------
    >>> receptive_field_px((9, 9), 1)   # the paper's full-scale network
    17
    >>> receptive_field_px((5, 5), 2), receptive_field_px((9, 9), 4)
    (16, 56)
    """
    k1, k2 = kernel_sizes
    p = pool_size
    return k1 + (p - 1) + (k2 - 1) * p + (p - 1) * p


def build_pooled_cnn(input_size: int, *, filters: tuple[int, int] = (6, 16),
                     kernel_sizes: tuple[int, int] = (5, 5), pool_size: int = 2,
                     dropout: float = 0.2) -> keras.Model:
    """Build the lightweight CNN with a max-pooling layer after each convolution.

    Layers: ``patch`` → ``conv1`` (ReLU) → ``pool1`` → ``conv2`` (ReLU) → ``pool2`` → ``gmp``
    (global max pooling) → ``dropout`` → ``output`` (one sigmoid unit). The defaults are
    Table 1's first row (2,589 parameters, receptive field 16 px); the parameter count is that
    of :func:`build_shallow_cnn` with the same filters and kernels.

    Parameters
    ----------
    input_size : int
        Patch side in pixels (the feature map must not vanish: at least the receptive field).
    filters, kernel_sizes : tuple of int, optional
    pool_size : int, optional
        Side and stride of both max-pooling layers (>= 1; 1 is the full-scale network).
    dropout : float, optional
        Rate in [0, 1).

    Returns
    -------
    model : keras.Model
        Uncompiled, named ``"pooled_cnn"``.

    Examples
    --------
    >>> build_pooled_cnn(144).count_params()
    2589
    >>> model = build_pooled_cnn(100, kernel_sizes=(9, 9), pool_size=4)
    >>> model.count_params(), [layer.name for layer in model.layers][1:5]
    (8301, ['conv1', 'pool1', 'conv2', 'pool2'])
    """
    size = _check_int("input_size", input_size)
    n_filters = _check_pair("filters", filters)
    kernels = _check_pair("kernel_sizes", kernel_sizes)
    pool = _check_int("pool_size", pool_size)
    if pool < 1:
        raise ValueError(f"`pool_size` must be >= 1; got pool_size={pool}.")
    rate = _check_dropout(dropout)
    field = receptive_field_px(kernels, pool)
    if size < field:
        raise ValueError(f"`input_size` must be at least the receptive field of {field} px; "
                         f"got input_size={size}.")
    inputs = keras.Input(shape=(size, size, 1), name="patch")
    x = keras.layers.Conv2D(n_filters[0], kernels[0], activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(pool, name="pool1")(x)
    x = keras.layers.Conv2D(n_filters[1], kernels[1], activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(pool, name="pool2")(x)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    x = keras.layers.Dropout(rate, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name="pooled_cnn")
