import doctest
import pickle
import subprocess
import sys

import numpy as np
import pytest

import synth
from synth import PatchDataset, SceneConfig, generate

CONFIG = SceneConfig()


def flip_image(image, label, mask):
    """A picklable transform: mirror image and mask, keep the label."""
    return image[..., ::-1].copy(), label, mask[..., ::-1].copy()


@pytest.mark.parametrize("resolution_um", [50, 70, 100])
def test_every_item_holds_the_bytes_of_generate(resolution_um):
    batch = generate(CONFIG, 6, resolution_um=resolution_um, seed=4)
    dataset = PatchDataset(CONFIG, 6, resolution_um=resolution_um, seed=4)
    for i in range(6):
        image, label, mask = dataset[i]
        assert image[0].tobytes() == batch.images[i].tobytes()
        assert label == batch.labels[i]
        np.testing.assert_array_equal(mask[0], batch.masks[i].astype(np.float32))


def test_items_do_not_depend_on_order_or_grouping():
    dataset = PatchDataset(CONFIG, 9, resolution_um=100, seed=1)
    first = dataset[5][0]
    for i in (8, 0, 3):
        dataset[i]
    assert dataset[5][0].tobytes() == first.tobytes()
    grouped = dataset.__getitems__([5, 0, 5, -1])
    assert [s[0].tobytes() for s in grouped] == [dataset[i][0].tobytes() for i in (5, 0, 5, 8)]
    assert [s[1] for s in grouped] == [dataset[i][1] for i in (5, 0, 5, 8)]
    assert dataset.__getitems__([]) == []


def test_same_seed_same_patch_other_seed_differs():
    a = PatchDataset(CONFIG, 3, resolution_um=100, seed=7)[2][0]
    b = PatchDataset(CONFIG, 3, resolution_um=100, seed=7)[2][0]
    c = PatchDataset(CONFIG, 3, resolution_um=100, seed=8)[2][0]
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("channels_first, shape", [(True, (1, 144, 144)), (False, (144, 144, 1))])
def test_dtypes_and_layout(channels_first, shape):
    config = SceneConfig(positive_fraction=1.0)  # every patch has MCs, so masks are not empty
    dataset = PatchDataset(config, 2, resolution_um=70, seed=0, channels_first=channels_first)
    image, label, mask = dataset[0]
    assert dataset.shape == shape
    assert image.shape == shape and image.dtype == np.float32
    assert mask.shape == shape and mask.dtype == np.float32
    assert type(label) is int and label == 1
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert 0.0 <= image.min() and image.max() <= 1.0
    reference = generate(config, 2, resolution_um=70, seed=0)
    np.testing.assert_array_equal(image.reshape(144, 144), reference.images[0])
    np.testing.assert_array_equal(mask.reshape(144, 144) == 1.0, reference.masks[0])


def test_behaves_like_a_sequence():
    dataset = PatchDataset(CONFIG, 4, resolution_um=100, seed=2)
    assert len(dataset) == 4
    assert dataset[-1][0].tobytes() == dataset[3][0].tobytes()
    assert dataset[-4][0].tobytes() == dataset[0][0].tobytes()
    assert dataset[np.int64(2)][0].tobytes() == dataset[2][0].tobytes()
    for bad in (4, -5, 100):
        with pytest.raises(IndexError, match=rf"`index` must lie in \[-4, 4\); got index={bad}"):
            dataset[bad]
    with pytest.raises(TypeError, match="`index` must be an integer"):
        dataset[1.0]  # type: ignore[index]
    with pytest.raises(TypeError, match="`index`"):
        dataset["1"]  # type: ignore[index]
    assert len(list(dataset)) == 4  # iteration stops at the IndexError, as for a sequence


@pytest.mark.parametrize("changes, error, field", [
    ({"config": {"positive_fraction": 0.5}}, TypeError, "config"),
    ({"n": 0}, ValueError, "n"),
    ({"n": 2.5}, ValueError, "n"),
    ({"resolution_um": 60}, ValueError, "resolution_um"),
    ({"seed": -1}, ValueError, "seed"),
    ({"transform": "flip"}, TypeError, "transform"),
    ({"channels_first": 1}, TypeError, "channels_first"),
])
def test_arguments_are_validated_naming_the_field(changes, error, field):
    arguments = {"config": CONFIG, "n": 3, "resolution_um": 100, "seed": 0, **changes}
    config, n = arguments.pop("config"), arguments.pop("n")
    with pytest.raises(error, match=rf"`{field}` must .*; got {field}="):
        PatchDataset(config, n, **arguments)


def test_transform_receives_the_sample_and_its_result_is_returned():
    plain = PatchDataset(CONFIG, 2, resolution_um=100, seed=3)
    flipped = PatchDataset(CONFIG, 2, resolution_um=100, seed=3, transform=flip_image)
    image, label, mask = flipped[1]
    np.testing.assert_array_equal(image, plain[1][0][..., ::-1])
    np.testing.assert_array_equal(mask, plain[1][2][..., ::-1])
    assert label == plain[1][1]
    assert "transform=" in repr(flipped) and "transform=" not in repr(plain)


def test_pickles_with_its_settings_and_gives_the_same_items():
    dataset = PatchDataset(CONFIG.replace(positive_fraction=0.8), 5, resolution_um=70, seed=9,
                           transform=flip_image, channels_first=False)
    clone = pickle.loads(pickle.dumps(dataset))
    assert (clone.config, clone.n, clone.resolution_um, clone.seed, clone.channels_first) == (
        dataset.config, 5, 70, 9, False)
    assert clone.transform is flip_image
    for i in (0, 4):
        assert clone[i][0].tobytes() == dataset[i][0].tobytes()
        assert clone[i][1] == dataset[i][1]


def test_the_docstring_example_runs():
    import synth._patch_dataset as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


def test_using_it_imports_neither_tensorflow_nor_torch():
    code = (
        "import sys, synth\n"
        "ds = synth.PatchDataset(synth.SceneConfig(), 3, resolution_um=100, seed=0)\n"
        "image, label, mask = ds[0]\n"
        "assert image.shape == (1, 100, 100)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'torch', "
        "'keras')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_is_exported():
    assert "PatchDataset" in synth.__all__ and synth.PatchDataset is PatchDataset


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_pytorch_dataloader_batches_it(num_workers):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    dataset = PatchDataset(CONFIG, 10, resolution_um=100, seed=5)
    # The platform's default worker start (fork on Linux); spawn, which pickles the dataset
    # (macOS, Windows), costs a torch import per worker: test_pickles_... covers what it needs.
    loader = DataLoader(dataset, batch_size=4, num_workers=num_workers)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    images, labels, masks = batches[0]
    assert images.shape == (4, 1, 100, 100) and images.dtype == torch.float32
    assert labels.shape == (4,) and labels.dtype == torch.int64
    assert masks.shape == (4, 1, 100, 100) and masks.dtype == torch.float32
    for b, (images, labels, masks) in enumerate(batches):
        for k in range(len(labels)):
            image, label, mask = dataset[4 * b + k]
            np.testing.assert_array_equal(images[k].numpy(), image)
            np.testing.assert_array_equal(masks[k].numpy(), mask)
            assert int(labels[k]) == label
