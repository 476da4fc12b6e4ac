import keras
import numpy as np
import pytest

from keras_kd import models
from keras_kd.export import to_tflite
from keras_kd.features import build_feature_extractor
from keras_kd.models.complexity import count_macs

# Independent figures: MLPerf Tiny's reference ResNet-8 (78,714 parameters,
# ~12.5M MACs) and REFERENCES.md's ResNet-20 (274k); RepDistiller's CIFAR-100
# counts for the others (their 100-class classifier adds 90 * width + 90).
PUBLISHED = {
    "mlperf_tiny_resnet8": (78_714, 0.001),
    "resnet20": (274_000, 0.01),
    "resnet56": (860_000, 0.01),
    "resnet8x4": (1_230_000, 0.01),
    "resnet32x4": (7_430_000, 0.01),
    "wrn_16_2": (700_000, 0.02),
    "wrn_40_2": (2_250_000, 0.01),
    "vgg8": (3_960_000, 0.02),
    "vgg13": (9_460_000, 0.01),
}
SMALL = ["mlperf_tiny_resnet8", "resnet20", "wrn_16_2", "mobilenet_v2"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_architectures(name):
    expected, tolerance = PUBLISHED[name]
    assert models.BUILDERS[name]().count_params() == pytest.approx(expected, rel=tolerance)


def test_mac_count_of_a_single_convolution_and_dense_layer():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*9*3*4
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 8*8*9*4
    out = keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(x))  # 4*5
    assert count_macs(keras.Model(inputs, out)) == 8 * 8 * 9 * 3 * 4 + 8 * 8 * 9 * 4 + 20
    assert count_macs(models.mlperf_tiny_resnet8()) == pytest.approx(12.5e6, rel=0.01)


@pytest.mark.parametrize("name", sorted(models.BUILDERS))
def test_every_builder_has_named_taps_and_takes_raw_images(name):
    model = models.BUILDERS[name]()
    taps = ["stage1", "stage2", "stage3", "pool"]
    out = build_feature_extractor(model, taps)(np.full((2, 32, 32, 3), 128.0, "float32"))
    assert out["output"].shape == (2, 10)
    assert out["stage1"].shape[1] > out["stage3"].shape[1]
    assert out["pool"].shape[0] == 2


@pytest.mark.parametrize("name", SMALL)
def test_small_models_export_to_int8_and_run_on_tflite_micro(name, tmp_path):
    model = models.BUILDERS[name]()
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = np.zeros(8, "int64")
    report = to_tflite(
        model,
        tmp_path / f"{name}.tflite",
        quantization="int8",
        representative_data=x,
        check_data=(x, y),
    )
    assert report.micro_unsupported_ops == [] and report.micro_error is None
    assert report.arena_bytes > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(models.BUILDERS) - set(SMALL)))
def test_large_models_export_to_int8_with_builtin_ops(name, tmp_path):
    model = models.BUILDERS[name]()
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    report = to_tflite(
        model, tmp_path / f"{name}.tflite", quantization="int8", representative_data=x
    )
    assert report.micro_unsupported_ops == []


@pytest.mark.parametrize(
    "builder,kwargs,match",
    [
        (models.wide_resnet, {"depth": 15, "width": 2}, "Received: depth=15"),
        (models.vgg, {"depth": 9}, "Received: depth=9"),
        (models.mobilenet_v2, {"width": 0}, "Received: width=0"),
    ],
)
def test_bad_architecture_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)
