"""Scoring synthetic patches with a predictor, here or on a Dask cluster.

Every stage of a probe that generates patches and scores them (the clean condition, each
sweep's conditions, the behavioural tests, the cross-resolution matrix) asks a `Scorer` for
`Request`s: a config, n patches of a seed at a resolution, optionally one image transform.
Locally the scorer renders and scores them as before. With a `distributed.Client` it splits
every request into chunks of `SCORE_CHUNK` patch indices and submits all chunks of all
requests at once (conditions × chunks as tasks). A worker rebuilds the model once, from the
predictor's recipe (its file, checked by SHA-256, or a picklable callable), renders its chunk
(`synth.generate_indices`: patch i is the same whoever renders it) and returns the patch
table and the probabilities — never the images. Chunks are multiples of the predictor's
batch, so the model sees the same batches as in a local run and the numbers are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import synth

from ._predictor import Predictor, as_predictor

SCORE_CHUNK = 256
"""Patches per scoring task on a cluster (a multiple of the predictors' batch of 64)."""

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "flip left-right": lambda x: x[:, :, ::-1],
    "flip up-down": lambda x: x[:, ::-1, :],
    "rotate 90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "rotate 270": lambda x: np.rot90(x, 3, axes=(1, 2)),
    "window gamma 0.95": lambda x: x**0.95,
    "window gamma 1.05": lambda x: x**1.05,
    # per image: a patch's windowing does not depend on the patches scored beside it
    "window contrast 0.97": lambda x: np.clip(
        x.mean(axis=(1, 2), keepdims=True)
        + 0.97 * (x - x.mean(axis=(1, 2), keepdims=True)), 0, 1),
}
"""The behavioural tests' invariance transforms of (N, H, W) patches in [0, 1]."""


@dataclass(frozen=True)
class Request:
    """n patches of `config` (seed, resolution), each passed through `transform` if given."""

    config: synth.SceneConfig
    n: int
    resolution_um: int
    seed: int
    transform: str | None = None


@dataclass(frozen=True, eq=False)
class Scored:
    """A request's patch table, labels and probabilities; `images` only when scored here."""

    patches: pd.DataFrame
    calcifications: pd.DataFrame
    labels: np.ndarray
    prob: np.ndarray
    images: np.ndarray | None = None


class Scorer:
    """Scores `Request`s with one predictor: here, or on `client`'s workers.

    Parameters
    ----------
    predictor : Predictor or callable
        A plain callable on (N, S, S, 1) patches is called as it is here; on a cluster it is
        wrapped by `as_predictor` at `resolution_um`.
    client : distributed.Client, optional
        Needs a predictor that another process can rebuild: from a model file
        (``as_predictor(path)``) or a picklable callable; an in-memory Keras model is
        refused (save it first).
    resolution_um : int, optional
        The resolution of a plain callable (a Predictor knows its own).
    backgrounds : synth.Backgrounds, optional
        Requests at the predictor's resolution insert their MCs into these.
    """

    def __init__(self, predictor: Predictor | Callable[[np.ndarray], Any], *,
                 client: Any = None, backgrounds: synth.Backgrounds | None = None,
                 resolution_um: int | None = None) -> None:
        if client is not None:
            synth.cluster.check_client(client)
            synth.cluster.check_stack(client)
            if not isinstance(predictor, Predictor):
                predictor = as_predictor(predictor, resolution_um=resolution_um)
            if predictor.recipe is None:
                raise ValueError("`client` needs a predictor another process can rebuild: "
                                 "give the model as a file (as_predictor(path) or "
                                 "mcc probe --model FILE); an in-memory Keras model cannot "
                                 "be sent to the workers.")
            if predictor.batch_size <= 0 or SCORE_CHUNK % predictor.batch_size:
                raise ValueError(f"`batch_size` must divide {SCORE_CHUNK} for a cluster run "
                                 f"(the workers' chunks); got {predictor.batch_size}.")
        self.predictor: Any = predictor
        self.client = client
        self.backgrounds = backgrounds

    def score(self, request: Request, predictor: Predictor | None = None) -> Scored:
        """One request (with `predictor`, a view of the same model, if given)."""
        return self.score_all([request], predictor)[0]

    def score_all(self, requests: Sequence[Request], predictor: Predictor | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Scored]:
        """Several requests; on a cluster, all their chunks are in flight together.
        `progress` is called with (requests done, requests in all) as each one completes."""
        model = predictor or self.predictor
        if self.client is None:
            out: list[Scored] = []
            rendered: dict[str, synth.Batch] = {}  # transforms of one batch render it once
            for r in requests:
                out.append(_score_here(model, r, self._backgrounds_for(r), rendered))
                if progress:
                    progress(len(out), len(requests))
            return out
        jobs = []
        for k, r in enumerate(requests):
            for start in range(0, r.n, SCORE_CHUNK):
                jobs.append((k, start, model.recipe, model.resolution_um, model.sha256,
                             model.batch_size, r, min(start + SCORE_CHUNK, r.n),
                             self._backgrounds_for(r) is not None))
        parts: dict[tuple[int, int], tuple[pd.DataFrame, pd.DataFrame, np.ndarray]] = {}
        left = [-(-r.n // SCORE_CHUNK) for r in requests]
        for k, start, patches, mcs, prob in synth.cluster.run_tasks(
                self.client, _score_task, jobs, self.backgrounds, name="mcc-score"):
            parts[(k, start)] = (patches, mcs, prob)
            left[k] -= 1
            if progress and not left[k]:
                progress(sum(1 for v in left if not v), len(requests))
        out = []
        for k, r in enumerate(requests):
            chunks = [parts[(k, start)] for start in range(0, r.n, SCORE_CHUNK)]
            patches = pd.concat([c[0] for c in chunks], ignore_index=True)
            out.append(Scored(
                patches=patches,
                calcifications=pd.concat([c[1] for c in chunks], ignore_index=True),
                labels=patches["label"].to_numpy(dtype=np.int64),
                prob=np.concatenate([c[2] for c in chunks])))
        return out

    def images(self, request: Request, scored: Scored, rows: Sequence[int]) -> np.ndarray:
        """The (transformed) images of `rows` of a scored request: kept when scored here,
        rendered again (the same pixels) when scored on a cluster."""
        if scored.images is not None:
            return scored.images[list(rows)]
        if not len(rows):
            size = synth.patch_size_px(request.resolution_um)
            return np.zeros((0, size, size), np.float32)
        indices = [int(scored.patches["index"].iat[i]) for i in rows]
        batch = _batch(request, indices, self._backgrounds_for(request))
        return _transformed(request, batch.images)

    def _backgrounds_for(self, request: Request) -> synth.Backgrounds | None:
        if self.backgrounds is not None and request.resolution_um == \
                self.backgrounds.resolution_um:
            return self.backgrounds
        return None


def _batch(request: Request, indices: range | list[int],
           backgrounds: synth.Backgrounds | None, serial: bool = False) -> synth.Batch:
    if backgrounds is not None:
        return synth.insert_indices(backgrounds, request.config, indices, seed=request.seed)
    return synth.generate_indices(request.config, indices, resolution_um=request.resolution_um,
                                  seed=request.seed, processes=1, serial=serial)


def _transformed(request: Request, images: np.ndarray) -> np.ndarray:
    return images if request.transform is None else TRANSFORMS[request.transform](images)


def _score_here(predictor: Callable[[np.ndarray], Any], request: Request,
                backgrounds: synth.Backgrounds | None, rendered: dict[str, synth.Batch]
                ) -> Scored:
    key = json.dumps([request.config.to_dict(), request.n, request.resolution_um,
                      request.seed, backgrounds is not None], sort_keys=True)
    if key in rendered:
        batch = rendered[key]
    elif backgrounds is not None:
        batch = synth.insert(backgrounds, request.config, request.n, seed=request.seed)
    else:
        batch = synth.generate(request.config, request.n, resolution_um=request.resolution_um,
                               seed=request.seed)
    rendered.clear()  # only the last batch is kept: memory stays one batch
    rendered[key] = batch
    images = _transformed(request, batch.images)
    prob = np.asarray(predictor(images[..., None]), dtype=np.float64)
    return Scored(batch.patches, batch.calcifications, batch.labels, prob, images)


_MODELS: dict[tuple[Any, ...], Predictor] = {}
"""The models this worker process has loaded, by file, trust and batch: loaded once each."""


def _worker_predictor(recipe: tuple[Any, ...], resolution_um: int, sha256: str | None,
                      batch_size: int) -> Predictor:
    kind = recipe[0]
    if kind == "path":
        key = (*recipe, batch_size)
        if key in _MODELS and _MODELS[key].sha256 != sha256:  # the file was rewritten
            del _MODELS[key]
        if key not in _MODELS:
            _MODELS[key] = as_predictor(recipe[1], trust_saved_model=recipe[2],
                                        batch_size=batch_size, resolution_um=resolution_um,
                                        resample=True)
        base = _MODELS[key]
        if base.sha256 != sha256:
            raise ValueError(f"the model file {recipe[1]!r} on this worker is not the "
                             "client's (another SHA-256): put the same file at that path "
                             "on every worker.")
    else:
        base = as_predictor(recipe[1], batch_size=batch_size, resolution_um=resolution_um,
                            input_size=recipe[2], resample=True)
    return base.at(resolution_um)


def _score_task(job: tuple[Any, ...], backgrounds: synth.Backgrounds | None
                ) -> tuple[int, int, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A cluster task: render one chunk of a request and score it; no images returned."""
    k, start, recipe, res, sha256, batch_size, request, stop, inserted = job
    predictor = _worker_predictor(recipe, res, sha256, batch_size)
    batch = _batch(request, range(start, stop), backgrounds if inserted else None,
                   serial=True)
    prob = np.asarray(predictor(_transformed(request, batch.images)[..., None]),
                      dtype=np.float64)
    return k, start, batch.patches, batch.calcifications, prob
