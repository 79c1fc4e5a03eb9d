"""The one grey-image reader: size limits checked from the header, before any decoding."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import synth
from synth.io import MAX_PIXELS, probe_grey_image, read_grey_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` × `height` 8-bit grey pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("side", [13_000, 30_000])  # under and over Pillow's own bomb limit
def test_a_huge_declared_image_is_refused_from_its_header(side):
    data = bomb(side, side)
    assert len(data) < 200
    for reader in (read_grey_image, probe_grey_image):
        with pytest.raises(ValueError, match=r"^`upload` must hold at most 100,000,000 pixels"):
            reader(data, field="upload")


def test_the_default_fits_a_full_field_mammogram_at_50_um():
    side_px = (round(240 / 0.05), round(300 / 0.05))  # 24 × 30 cm at 50 µm
    assert side_px[0] * side_px[1] <= MAX_PIXELS
    assert probe_grey_image(bomb(*side_px)) == (side_px[1], side_px[0])


def test_the_limit_is_overridable_per_call_and_per_process(monkeypatch):
    data = _png(np.zeros((10, 20), np.uint8))
    assert read_grey_image(data, max_pixels=200).pixels.shape == (10, 20)
    with pytest.raises(ValueError, match="at most 199 pixels"):
        read_grey_image(data, max_pixels=199)
    monkeypatch.setenv("MCC_MAX_PIXELS", "150")
    with pytest.raises(ValueError, match="at most 150 pixels.*MCC_MAX_PIXELS"):
        probe_grey_image(data)
    monkeypatch.setenv("MCC_MAX_PIXELS", "many")
    with pytest.raises(ValueError, match="`MCC_MAX_PIXELS` must be a positive integer"):
        read_grey_image(data)
    with pytest.raises(ValueError, match="`max_pixels` must be a positive integer"):
        read_grey_image(data, max_pixels=0)


def test_grey_16_bit_and_equal_channel_rgb_read_alike():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = read_grey_image(_png(np.repeat(grey[..., None], 3, axis=2)))
    assert rgb.bit_depth == 8 and np.array_equal(rgb.pixels, grey)
    deep = read_grey_image(_png(grey.astype(np.uint16) * 1000))
    assert deep.bit_depth == 16 and deep.pixels.dtype == np.uint16
    assert synth.read_grey_image is read_grey_image
