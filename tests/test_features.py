import keras
import numpy as np
import pytest

from keras_kd.features import build_feature_extractor, tappable_layers
from tests.helpers import IMAGE_SHAPE, tiny_cnn, tiny_data


def test_returns_logits_and_named_features_in_one_pass():
    model = tiny_cnn("net")
    taps = build_feature_extractor(model, ["block1", "block2_pre"])
    x, _ = tiny_data(4)
    out = taps(x)
    assert set(out) == {"output", "block1", "block2_pre"}
    assert out["block1"].shape == (4, 16, 16, 4)
    assert out["block2_pre"].shape == (4, 8, 8, 8)
    np.testing.assert_allclose(out["output"], model(x), atol=1e-6)
    assert {id(w) for w in taps.weights} == {id(w) for w in model.weights}


def test_unknown_name_lists_existing_layers():
    with pytest.raises(
        ValueError, match=r"does not have.*'block1'.*Received: layer_names entry 'blk'"
    ):
        build_feature_extractor(tiny_cnn("net"), ["blk"])


def test_subclassed_model_is_rejected():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="functional.*subclassed.*Received: model="):
        build_feature_extractor(net, [])


def test_layer_inside_a_nested_model_is_named_with_its_owner():
    inner = tiny_cnn("inner")
    inputs = keras.Input(IMAGE_SHAPE)
    outer = keras.Model(inputs, inner(inputs), name="outer")
    with pytest.raises(ValueError, match="inside the nested model 'inner'"):
        build_feature_extractor(outer, ["block1"])


def test_shared_layer_cannot_be_tapped():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    out = keras.layers.Dense(2)(shared(shared(inputs)))
    with pytest.raises(ValueError, match="cannot be tapped.*'shared'"):
        build_feature_extractor(keras.Model(inputs, out), ["shared"])


def test_reserved_and_non_string_names_are_rejected():
    with pytest.raises(ValueError, match="must not contain 'output'"):
        build_feature_extractor(tiny_cnn("net"), ["output"])
    with pytest.raises(ValueError, match="list of layer names"):
        build_feature_extractor(tiny_cnn("net"), "block1")


def test_multi_output_model_is_rejected():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    with pytest.raises(ValueError, match="exactly one output"):
        build_feature_extractor(model, [])


def test_tappable_layers_lists_what_build_feature_extractor_accepts():
    model = tiny_cnn("net")
    rows = tappable_layers(model)
    assert ("block1", (16, 16, 4), "ReLU") in rows
    assert ("block2_pre", (8, 8, 8), "BatchNormalization") in rows
    assert [name for name, _, _ in rows] == [layer.name for layer in model.layers]
    build_feature_extractor(model, [name for name, _, _ in rows if name != "image"])


def test_tappable_layers_leaves_out_shared_layers_and_nested_models_insides():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    out = keras.layers.Dense(2, name="head")(shared(shared(inputs)))
    names = [name for name, _, _ in tappable_layers(keras.Model(inputs, out))]
    assert "shared" not in names and "head" in names
    inner = tiny_cnn("inner")
    image = keras.Input(IMAGE_SHAPE)
    outer = keras.Model(image, inner(image), name="outer")
    assert "block1" not in [name for name, _, _ in tappable_layers(outer)]


def test_a_loaded_sequential_model_taps_its_own_graph(tmp_path):
    # A loaded Sequential model is built twice: its layers keep a stale first call,
    # which the tap must skip (it was refused as "called 2 times" after a save/load).
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(2),
        ]
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(3, 6, 6, 3)).astype("float32")
    taps = build_feature_extractor(loaded, ["gap"])(x)
    expected = keras.Model(loaded.inputs, loaded.get_layer("conv").output)(x).numpy()
    np.testing.assert_allclose(taps["gap"], expected.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(taps["output"], loaded(x), rtol=1e-5, atol=1e-6)
