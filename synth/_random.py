"""Random streams of the per-patch fields (background and detector noise), and fast normals.

A scene stores each stream as a *key*: the four 64-bit words of an SFC64 state, drawn from the
scene's own generator. Rendering restores that state on a per-thread bit generator, which
costs about a microsecond where seeding a new one through a SeedSequence costs about ten.
"""

from __future__ import annotations

import threading

import numpy as np

Key = tuple[int, int, int, int]
_local = threading.local()


def normals_from_key(key: Key, n: int) -> np.ndarray:
    """`n` standard normal float32 values of the stream `key` (same key → same values)."""
    return standard_normals(_restored(key), n)


def _restored(key: Key) -> np.random.Generator:
    """This thread's SFC64 generator, set to the state `key`."""
    generator = getattr(_local, "generator", None)
    if generator is None:
        generator = _local.generator = np.random.Generator(np.random.SFC64(0))
    generator.bit_generator.state = {
        "bit_generator": "SFC64",
        "state": {"state": np.array(key, dtype=np.uint64)},
        "has_uint32": 0,
        "uinteger": 0,
    }
    return generator

_TWO_PI = np.float32(2.0 * np.pi)


def standard_normals(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` standard normal float32 values by the Box–Muller transform of interleaved uniforms.

    Two uniforms (u1, u2) give the pair (r cos θ, r sin θ), r = sqrt(-2 ln(1 - u1)), θ = 2π u2,
    written next to each other, so the first 2m values depend on the first 2m uniforms only:
    drawing more continues the same sequence (the background's nested shells rely on this).
    On the reference machine this is about 1.7× faster than ``rng.standard_normal(dtype=float32)``
    and these draws dominate the cost of a patch. Tails stop at 5.8 σ (float32 uniforms).
    """
    half = (n + 1) // 2
    u = rng.random(2 * half, dtype=np.float32).reshape(half, 2)
    radius = np.sqrt(np.float32(-2.0) * np.log1p(-u[:, 0]))
    theta = _TWO_PI * u[:, 1]
    out = np.empty((half, 2), dtype=np.float32)
    np.multiply(radius, np.cos(theta), out=out[:, 0])
    np.multiply(radius, np.sin(theta), out=out[:, 1])
    return out.reshape(-1)[:n]


_U24 = np.float32(2.0**-24)
CACHE_VALUES = 1 << 17
"""Values a batched step works on at once (512 kB of float32: it stays in a core's cache)."""


def raw_normals_many(keys: list[Key], n: int, out: np.ndarray) -> np.ndarray:
    """`n` standard normal float32 values of each stream in `keys`, into `out` (len(keys), n).

    Box–Muller: each pair comes from one raw 64-bit word of the stream; the top 24 bits of
    its high half give u1 and those of its low half u2 (the float32 resolution of
    `Generator.random`). Pair k depends on word k only, so drawing more continues the same
    sequence, as with `standard_normals`. The words are read as little-endian, so the uniforms
    are the same on every platform (the normals up to the last-place differences of the
    platform's float32 log1p, sin and cos); the transform is elementwise, so a row's values do
    not depend on the other rows.
    """
    step = max(1, CACHE_VALUES // max(n, 1))
    if len(keys) > step:  # a few rows at a time, so the work stays in the cache
        for k in range(0, len(keys), step):
            raw_normals_many(keys[k:k + step], n, out[k:k + step])
        return out
    half = (n + 1) // 2
    words = np.empty((len(keys), half), dtype="<u8")
    for b, key in enumerate(keys):
        words[b] = _restored(key).bit_generator.random_raw(half)
    quarter = words.view("<u4")
    quarter >>= np.uint32(8)
    direct = n % 2 == 0 and out.flags.c_contiguous  # transform in `out` itself
    u = out.reshape(len(keys), half, 2) if direct else np.empty((len(keys), half, 2),
                                                                 dtype=np.float32)
    u[:] = quarter.view("<i4").reshape(len(keys), half, 2)  # low, high halves, as floats
    del words, quarter
    radius = u[:, :, 1] * -_U24
    np.log1p(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    theta = u[:, :, 0] * (np.float32(2.0 * np.pi) * _U24)
    pairs = u
    trig = np.cos(theta)
    np.multiply(radius, trig, out=pairs[:, :, 0])
    np.sin(theta, out=trig)
    np.multiply(radius, trig, out=pairs[:, :, 1])
    if not direct:
        out[:] = pairs.reshape(len(keys), 2 * half)[:, :n]
    return out
