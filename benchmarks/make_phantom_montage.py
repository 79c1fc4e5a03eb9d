"""Write docs/phantom_montage.png: anatomical mammograms at the four BI-RADS density
categories (columns a–d) in both views (rows CC, MLO), rendered at 100 µm and shown at
0.8 mm per pixel, with every finding outlined (MCCs red, look-alikes yellow, defects cyan).

Usage: python benchmarks/make_phantom_montage.py [--out docs/phantom_montage.png] [--seed 11]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

import synth

SHRINK = 8
COLOURS = {"cluster": (255, 60, 60), "dead_pixel": (0, 220, 255), "dead_line": (0, 220, 255)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/phantom_montage.png")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    tiles = []
    for view in synth.VIEWS:
        row = []
        for k, category in enumerate(synth.DENSITY_CATEGORIES):
            m = synth.render_mammogram(synth.SceneConfig(), resolution_um=100,
                                       seed=args.seed + k, view=view,
                                       density_category=category)
            h, w = (s // SHRINK for s in m.image.shape)
            grey = m.image[:h * SHRINK, :w * SHRINK].reshape(h, SHRINK, w, SHRINK).mean(axis=(1, 3))
            tile = Image.fromarray((255 * grey).astype(np.uint8)).convert("RGB")
            draw = ImageDraw.Draw(tile)
            assert m.findings is not None
            for f in m.findings.itertuples():
                if f.kind == "hard_negative":
                    continue
                colour = COLOURS.get(f.kind, (255, 220, 0))
                draw.rectangle([f.X1 // SHRINK - 1, f.Y1 // SHRINK - 1, f.X2 // SHRINK + 1,
                                f.Y2 // SHRINK + 1], outline=colour)
            draw.text((6, 4), f"{view} {category}", fill=(255, 255, 255))
            row.append(tile)
        tiles.append(row)
    tw, th = tiles[0][0].size
    montage = Image.new("RGB", (4 * tw + 12, 2 * th + 4), (40, 40, 40))
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            montage.paste(tile, (c * (tw + 4), r * (th + 4)))
    montage.quantize(colors=96).save(args.out, optimize=True)  # grey + a few box colours
    print(f"{args.out}: {montage.size[0]}×{montage.size[1]} px")


if __name__ == "__main__":
    main()
