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
    generator = getattr(_local, "generator", None)
    if generator is None:
        generator = _local.generator = np.random.Generator(np.random.SFC64(0))
    generator.bit_generator.state = {
        "bit_generator": "SFC64",
        "state": {"state": np.array(key, dtype=np.uint64)},
        "has_uint32": 0,
        "uinteger": 0,
    }
    return standard_normals(generator, n)

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
