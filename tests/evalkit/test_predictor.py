import numpy as np
import pytest

from evalkit import as_predictor

keras = pytest.importorskip("keras")


def _tiny(size, channels=1, softmax=False):
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling2D()(x)
    out = keras.layers.Dense(2 if softmax else 1, activation="softmax" if softmax else "sigmoid")(x)
    return keras.Model(inp, out, name="tiny")


@pytest.fixture
def patches(rng):
    return rng.random((5, 100, 100, 1), dtype=np.float32)


def test_model_saved_file_and_callable_agree(tmp_path, patches):
    model = _tiny(100)
    path = tmp_path / "m.keras"
    model.save(path)
    direct = as_predictor(model)
    loaded = as_predictor(path)
    plain = as_predictor(lambda x: model.predict(x, verbose=0), input_size=100)
    assert direct.resolution_um == loaded.resolution_um == plain.resolution_um == 100
    a, b, c = direct(patches), loaded(patches), plain(patches)
    assert a.shape == (5,) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6)
    assert loaded.sha256 and len(loaded.sha256) == 64
    assert direct(patches[..., 0]).shape == (5,)


def test_softmax_and_three_channel_models_are_adapted(patches):
    model = _tiny(100, channels=3, softmax=True)
    predictor = as_predictor(model)
    expected = model.predict(np.repeat(patches, 3, axis=-1), verbose=0)[:, 1]
    np.testing.assert_allclose(predictor(patches), expected, rtol=1e-5)


def test_resolution_is_inferred_and_mismatches_refused(patches):
    assert as_predictor(_tiny(144)).resolution_um == 70
    with pytest.raises(ValueError, match="resample"):
        as_predictor(_tiny(144), resolution_um=100)
    with pytest.raises(ValueError, match="matches no resolution"):
        as_predictor(_tiny(64))
    resampled = as_predictor(_tiny(144), resolution_um=100, resample=True)
    assert resampled.input_size == 100 and resampled(patches).shape == (5,)
    with pytest.raises(ValueError, match="images"):
        as_predictor(_tiny(100))(np.zeros((2, 144, 144, 1), np.float32))


def test_nan_and_bad_outputs_are_refused(patches):
    with pytest.raises(ValueError, match="NaN"):
        as_predictor(lambda x: np.full(len(x), np.nan), input_size=100)(patches)
    with pytest.raises(ValueError, match="shape"):
        as_predictor(lambda x: np.zeros((len(x), 3)), input_size=100)(patches)
    with pytest.raises(ValueError, match="outside"):
        as_predictor(lambda x: np.full(len(x), 4.0), input_size=100)(patches)


def test_unreadable_files_are_refused(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="not a readable Keras model"):
        as_predictor(bad)
    with pytest.raises(ValueError, match="no model"):
        as_predictor(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="input_size"):
        as_predictor(lambda x: x)
    with pytest.raises(ValueError, match="model_or_path"):
        as_predictor(42)


def test_saved_model_folder(tmp_path, patches):
    model = _tiny(100)
    model.export(tmp_path / "saved", verbose=False)
    predictor = as_predictor(tmp_path / "saved", trust_saved_model=True)
    np.testing.assert_allclose(predictor(patches), as_predictor(model)(patches), rtol=1e-5)


def test_a_saved_model_that_writes_files_is_refused_unless_trusted(tmp_path, patches):
    tf = pytest.importorskip("tensorflow")
    marker = tmp_path / "written_by_the_model.txt"

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 100, 100, 1], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "the model ran its own file I/O")
            return {"p": tf.reduce_max(x, axis=[1, 2, 3])}

    module = Hostile()
    tf.saved_model.save(module, str(tmp_path / "hostile"),
                        signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match="SavedModel folder.*read and write files"):
        as_predictor(tmp_path / "hostile")
    assert not marker.exists()
    as_predictor(tmp_path / "hostile", trust_saved_model=True)(patches)
    assert marker.exists()  # what trusting means: the graph's own ops run


def test_onnx_model(tmp_path, patches):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    # probability = sigmoid(4 * max(x) - 2), per patch
    graph = helper.make_graph(
        [helper.make_node("ReduceMax", ["x", "axes"], ["m"], keepdims=0),
         helper.make_node("Mul", ["m", "four"], ["s"]),
         helper.make_node("Sub", ["s", "two"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["p"])],
        "toy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 100, 100, 1])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
         helper.make_tensor("four", TensorProto.FLOAT, [], [4.0]),
         helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / "toy.onnx"
    onnx.save(model, path)
    predictor = as_predictor(path)
    expected = 1 / (1 + np.exp(-(4 * patches.max(axis=(1, 2, 3)) - 2)))
    assert predictor.resolution_um == 100
    np.testing.assert_allclose(predictor(patches), expected, rtol=1e-5)
    bad = tmp_path / "bad.onnx"
    bad.write_text("nope")
    with pytest.raises(ValueError, match="ONNX"):
        as_predictor(bad)
