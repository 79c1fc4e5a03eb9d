"""The study's arms: what each trains on, where its weights start, what it is tested on.

Per model and seed, in the order they run (donors first):

- ``Source-70``: trained on the source domain at 70 µm (the papers' INbreast model); donor of
  the Transfer, Eval and Resample (source) arms; tested on the source domain's own test set.
- ``Scratch-R`` (R = 50, 70, 100): trained from scratch on the target domain at R µm.
- ``Transfer-R``: Source-70's backbone, frozen, with a new head trained at R µm.
- ``Fine-tune-R``: two-stage fine-tuning. It starts from the trained Transfer-R model (its
  head already trained on the frozen backbone) and trains every layer at R µm for the
  budget's epochs at the learning rate times ``fine_tune_factor``. Its total budget is
  therefore Transfer-R's plus this second stage (twice the epochs of a Scratch arm).
- ``Mixed``: trained on the target training patches of all three resolutions at once (a third
  each, resampled to 70 µm); tested at each resolution (rows ``Mixed-50/70/100``).
- ``Eval-70``: Source-70 tested unchanged on the target domain at 70 µm (no training).
- ``Resample-R`` (R = 50, 100): Scratch-70 (the target domain's 70 µm model) tested on the
  R µm test patches resampled to 70 µm with the anti-aliased resampler (no training).
- ``Resample-source-R`` (R = 50, 100): the same with Source-70 (the donor of Transfer and
  Eval), so resampling and transfer are compared from one donor.

All arms of one seed share the seed of their initialisation and of their training order
(``keras.utils.set_random_seed(1000 * data_seed + seed)`` before each arm is built, the
epoch permutations from ``(data_seed, seed, epoch)``): two arms of one architecture and
input size start from the same weights and see their patches in the same order, so their
paired differences are not those of two initialisations.

The lightweight CNN's backbone is its two convolutions (``conv1``, ``conv2``), MobileNetV2's
its ``backbone`` sub-model. The pooled variants run the Scratch arms only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

import synth
from mcc_core._tf import keras
from mcc_core.models._builders import build_mobilenet_classifier, build_shallow_cnn
from mcc_core.models._builders import transfer as transfer_mobilenet
from mcc_core.models._variants import build_pooled_cnn, receptive_field_px

__all__ = ["FAMILIES", "MODEL_INFO", "Arm", "backbone_sha256", "build_arm_model", "comparisons",
           "plan_arms", "weights_sha256"]

RESOLUTIONS = synth.RESOLUTIONS_UM
FAMILIES: dict[str, tuple[str, ...]] = {
    "shallow": ("shallow", "shallow-mpl2-5x5", "shallow-mpl4-9x9"),
    "mobilenet": ("mobilenet",),
}
"""The models of each family: the lightweight CNN with its two pooled variants, MobileNetV2."""
_POOLED: dict[str, tuple[tuple[int, int], int]] = {
    "shallow-mpl2-5x5": ((5, 5), 2), "shallow-mpl4-9x9": ((9, 9), 4)}
"""Kernel sizes and pool size of the pooled variants."""
MODEL_INFO: dict[str, dict[str, Any]] = {
    "shallow": {"family": "shallow", "n_params": 8301, "receptive_field_px": 17,
                "description": "lightweight CNN, 9×9 6/16, no pooling (seed 001's best)"},
    "shallow-mpl2-5x5": {"family": "shallow", "n_params": 2589,
                         "receptive_field_px": receptive_field_px((5, 5), 2),
                         "description": "Table 1 row 1: 5×5 6/16 with two 2×2 max-pooling "
                                        "layers"},
    "shallow-mpl4-9x9": {"family": "shallow", "n_params": 8301,
                         "receptive_field_px": receptive_field_px((9, 9), 4),
                         "description": "9×9 6/16 with two 4×4 max-pooling layers (the "
                                        "best network's weights, a 3.3× wider field)"},
    "mobilenet": {"family": "mobilenet", "n_params": 67797505, "receptive_field_px": None,
                  "description": "MobileNetV2 classifier (seed 000), 67,797,505 parameters "
                                 "at 144 px"},
}
DONORS = ("Source-70", "Scratch-70", "Transfer-50", "Transfer-70", "Transfer-100")
"""The arms whose model is saved (``model.keras``) for the arms that start from it."""


@dataclass(frozen=True)
class Arm:
    """One arm of one model and seed.

    Attributes
    ----------
    model, name : str
    seed : int
    train_on : str or None
        The `StudyData` key it is trained on; None for the evaluation-only arms.
    input_um : int
        Resolution of the model's input.
    init : {"scratch", "transfer", "fine-tune", "donor"}
        Where its weights start ("transfer": the donor's backbone, frozen, a new head;
        "fine-tune": the whole donor, every layer trainable; "donor": the donor itself,
        unchanged).
    donor : str or None
        The arm whose model it starts from.
    tests : tuple of (label, test key)
        The rows it produces; a key ending in ``@70`` is resampled to 70 µm.
    """

    model: str
    name: str
    seed: int
    train_on: str | None
    input_um: int
    init: str = "scratch"
    donor: str | None = None
    tests: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.model}/{self.name}/seed-{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "arm": self.name, "seed": self.seed,
                "family": MODEL_INFO[self.model]["family"], "train_on": self.train_on,
                "input_um": self.input_um, "init": self.init, "donor": self.donor,
                "tests": [list(t) for t in self.tests]}


def plan_arms(model: str, seed: int) -> list[Arm]:
    """The arms of `model` for one seed, donors first (see the module text)."""
    def scratch(res: int) -> Arm:
        return Arm(model, f"Scratch-{res}", seed, f"target-{res}", res,
                   tests=((f"Scratch-{res}", f"target-{res}"),))

    if model != "shallow" and model != "mobilenet":
        return [scratch(r) for r in (70, 50, 100)]
    arms = [Arm(model, "Source-70", seed, "source-70", 70,
                tests=(("Source-70", "source-70"),)), scratch(70), scratch(50), scratch(100)]
    arms += [Arm(model, f"Transfer-{r}", seed, f"target-{r}", r, "transfer", "Source-70",
                 ((f"Transfer-{r}", f"target-{r}"),)) for r in RESOLUTIONS]
    arms += [Arm(model, f"Fine-tune-{r}", seed, f"target-{r}", r, "fine-tune", f"Transfer-{r}",
                 ((f"Fine-tune-{r}", f"target-{r}"),)) for r in RESOLUTIONS]
    arms.append(Arm(model, "Mixed", seed, "mixed", 70, tests=tuple(
        (f"Mixed-{r}", f"target-{r}" + ("" if r == 70 else "@70")) for r in RESOLUTIONS)))
    arms.append(Arm(model, "Eval-70", seed, None, 70, "donor", "Source-70",
                    (("Eval-70", "target-70"),)))
    for donor, prefix in (("Scratch-70", "Resample"), ("Source-70", "Resample-source")):
        arms += [Arm(model, f"{prefix}-{r}", seed, None, 70, "donor", donor,
                     ((f"{prefix}-{r}", f"target-{r}@70"),)) for r in (50, 100)]
    return arms


SCRATCH_PAIRS = (("Scratch-50", "Scratch-70"), ("Scratch-70", "Scratch-100"),
                 ("Scratch-50", "Scratch-100"))
"""The resolution comparisons: the same test scenes at two resolutions, paired patch by patch."""


def comparisons(models: tuple[str, ...]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The paired comparisons, ((model a, row a), (model b, row b)), a's advantage reported."""
    pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for m in (m for m in models if m in ("shallow", "mobilenet")):
        rows = [(f"Transfer-{r}", f"Scratch-{r}") for r in RESOLUTIONS]
        rows += [(f"Resample-{r}", f"Transfer-{r}") for r in (50, 100)]
        rows += [(f"Resample-{r}", f"Scratch-{r}") for r in (50, 100)]
        rows += [(f"Resample-source-{r}", f"Transfer-{r}") for r in (50, 100)]
        rows += [(f"Fine-tune-{r}", f"Transfer-{r}") for r in RESOLUTIONS]
        rows += [(f"Mixed-{r}", f"Scratch-{r}") for r in RESOLUTIONS]
        rows += [("Eval-70", "Scratch-70")]
        pairs += [((m, a), (m, b)) for a, b in rows]
    for m in models:
        pairs += [((m, a), (m, b)) for a, b in SCRATCH_PAIRS]
    if "shallow" in models:
        pairs += [((v, f"Scratch-{r}"), ("shallow", f"Scratch-{r}"))
                  for v in _POOLED if v in models for r in RESOLUTIONS]
    return pairs


def _build(model: str, size: int) -> keras.Model:
    if model == "mobilenet":
        return build_mobilenet_classifier(size)
    if model == "shallow":
        return build_shallow_cnn(size)
    kernels, pool = _POOLED[model]
    return build_pooled_cnn(size, kernel_sizes=kernels, pool_size=pool)


def build_arm_model(arm: Arm, donor: keras.Model | None) -> keras.Model:
    """The arm's model before training: fresh, or with `donor`'s backbone (frozen or not)."""
    size = synth.patch_size_px(arm.input_um)
    if arm.init == "scratch":
        return _build(arm.model, size)
    if donor is None:
        raise ValueError(f"arm {arm.id} needs its donor {arm.donor}.")
    if arm.init == "fine-tune":
        return _whole_copy(arm, donor, size)
    frozen = arm.init == "transfer"
    if arm.model == "mobilenet":
        return transfer_mobilenet(donor, size, freeze_backbone=frozen)
    model = _build(arm.model, size)
    for name in ("conv1", "conv2"):
        layer = model.get_layer(name)
        layer.set_weights(donor.get_layer(name).get_weights())
        layer.trainable = not frozen
    return model


def _whole_copy(arm: Arm, donor: keras.Model, size: int) -> keras.Model:
    """The donor (a trained Transfer arm) with every weight copied and every layer trainable."""
    if arm.model == "mobilenet":
        model = transfer_mobilenet(donor, size, freeze_backbone=False)
        for name in ("dense_2048", "output"):
            model.get_layer(name).set_weights(donor.get_layer(name).get_weights())
        return model
    model = _build(arm.model, size)
    model.set_weights(donor.get_weights())
    return model


def weights_sha256(model: keras.Model) -> str:
    """SHA-256 of all of a model's weights, in order."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def backbone_sha256(model: keras.Model, name: str) -> str:
    """SHA-256 of the backbone's weights (MobileNetV2's sub-model, or conv1 and conv2)."""
    layers = ("backbone",) if name == "mobilenet" else ("conv1", "conv2")
    digest = hashlib.sha256()
    for layer in layers:
        for weight in model.get_layer(layer).get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()
