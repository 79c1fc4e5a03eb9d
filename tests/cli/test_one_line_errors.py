"""In a real process, a command that has imported TensorFlow still fails with one line."""

import subprocess
import sys

import numpy as np
from PIL import Image


def test_a_bad_model_gives_one_line_after_tensorflow_starts(tmp_path):
    image = tmp_path / "mammogram.png"
    Image.fromarray(np.full((120, 130), 128, np.uint8)).save(image)
    model = tmp_path / "junk.keras"
    model.write_text("not a model")
    out = tmp_path / "scan"
    done = subprocess.run(
        [sys.executable, "-m", "mcc_cli", "scan", str(image), "--resolution", "100",
         "--model", str(model), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mcc scan: error:") and "junk.keras" in lines[0]
    assert not out.exists()
