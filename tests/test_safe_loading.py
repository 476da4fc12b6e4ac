"""Everything keras_kd hands a user loads back with Keras's default
``safe_mode=True``, with the same predictions; the deployable models load in
a fresh process that never imports keras_kd, as plain Keras models."""

import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_kd_cli as cli
from keras_kd import distillers
from keras_kd.export import to_tflite
from keras_kd.quantization import float_weights, quantization_aware
from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.demo import PRETRAINED_TEACHER
from tests.distillers.test_methods import METHODS, make
from tests.helpers import snapshot, snapshot_without_random_state, tiny_cnn, tiny_data

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_kd"
UNSAFE = ("safe_mode=False", "enable_unsafe_deserialization", "layers.Lambda")

# Loads every `name.keras` in a folder in safe mode and keeps each model's
# predictions on `name.npy`; fails if loading pulled keras_kd in.
FRESH_LOADER = """
import os, sys
import keras, numpy as np
folder = sys.argv[1]
outputs = {}
for name in sorted(f[: -len(".keras")] for f in os.listdir(folder) if f.endswith(".keras")):
    model = keras.saving.load_model(os.path.join(folder, name + ".keras"), safe_mode=True)
    outputs[name] = model.predict(np.load(os.path.join(folder, name + ".npy")), verbose=0)
assert not [m for m in sys.modules if m.split(".")[0] == "keras_kd"], "keras_kd was imported"
np.savez(os.path.join(folder, "loaded.npz"), **outputs)
"""


def _perturb(model, seed=1):
    """Moves every trainable weight off its initializer's values (zeros, ones)."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(v + rng.normal(0.0, 0.1, v.shape).astype(v.dtype))


def _reloaded(model, path, x):
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )
    return loaded


def _online_and_self():
    keras.utils.set_random_seed(0)
    return {
        "dml": distillers.DeepMutualLearning(
            peers=[tiny_cnn("peer_a"), tiny_cnn("peer_b", 8)], deploy_index=1
        ),
        "one": distillers.ONE(tiny_cnn("net"), cut_layer="block1", branches=2, deploy_index=1),
        "byot": distillers.BYOT(tiny_cnn("net"), exit_layers=["block1"], deep_layer="block2"),
    }


def _all_distillers():
    built = {name: make(name)[0] for name in sorted(METHODS)}
    built.update(_online_and_self())
    for trainer in built.values():
        trainer.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
        _perturb(trainer)
    return built


@pytest.fixture(scope="module")
def weighted_distillers():
    return _all_distillers()


def test_every_distiller_loads_in_safe_mode_with_all_its_weights(weighted_distillers, tmp_path):
    x, _ = tiny_data(8)
    for name, trainer in weighted_distillers.items():
        loaded = _reloaded(trainer, tmp_path / f"{name}.keras", x)
        before = snapshot_without_random_state(trainer)
        after = snapshot_without_random_state(loaded)
        assert len(before) == len(after), name
        for a, b in zip(before, after, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_quantization_aware_copy_loads_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    x, _ = tiny_data(8)
    qat = quantization_aware(tiny_cnn("student"))
    _perturb(qat)
    qat(x, training=True)  # records activation ranges, so outputs are fake-quantized
    assert float(keras.ops.convert_to_numpy(qat.get_layer("block1").range_seen)) == 1.0
    loaded = _reloaded(qat, tmp_path / "qat.keras", x)
    for a, b in zip(snapshot(qat), snapshot(loaded), strict=True):
        np.testing.assert_array_equal(a, b)


def _ban_e(tmp_path):
    """BAN-E from two generations kept in a Born-Again directory (`fit` resumes
    from them instead of training)."""
    keras.utils.set_random_seed(0)
    directory = tmp_path / "born_again"
    directory.mkdir()
    for g in (1, 2):
        generation = tiny_cnn("generation")
        _perturb(generation, seed=g)
        generation.save(directory / f"generation{g}.keras")
    ban = distillers.BornAgain(tiny_cnn("teacher", 8), lambda: tiny_cnn("generation"), 2, directory)
    ban.compile(optimizer=lambda: keras.optimizers.Adam(1e-2))
    assert ban.fit(*tiny_data(8), epochs=1, verbose=0) == {}
    return ban


def test_ban_ensemble_is_plain_keras_and_exports_to_tflite(tmp_path):
    ban = _ban_e(tmp_path)
    ensemble = ban.ensemble()
    x, y = tiny_data(16)
    probs = np.mean([keras.ops.softmax(m(x)).numpy() for m in ban.models], axis=0)
    np.testing.assert_allclose(keras.ops.softmax(ensemble(x)).numpy(), probs, atol=1e-5)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in ensemble.layers)
    report = to_tflite(ensemble, tmp_path / "ensemble.tflite", check_data=(x, y))
    assert report.max_abs_diff < 1e-4 and report.litert_agreement == 1.0


def _benchmark_models():
    """Every architecture the benchmark protocols save (students, and the
    teachers and Born-Again generations the runner trains)."""
    built = {}
    for protocol in PROTOCOLS.values():
        for role, build in (
            ("student", protocol.build_student),
            ("teacher", protocol.build_teacher),
        ):
            built[f"bench_{protocol.name}_{role}"] = build()
    return built


def _deployables(weighted_distillers, tmp_path):
    keras.utils.set_random_seed(0)
    models = {f"{name}_deployable": t.deployable for name, t in weighted_distillers.items()}
    byot = weighted_distillers["byot"]
    models.update({f"byot_exit{i}": m for i, m in enumerate(byot.exits[:-1])})
    models["one_branch1"] = weighted_distillers["one"].student
    qat = quantization_aware(tiny_cnn("student"))
    _perturb(qat)
    models["qat_deployable"] = float_weights(qat, tiny_cnn("student"))
    ban = _ban_e(tmp_path)
    models.update(ban_ensemble=ban.ensemble(), ban_student=ban.student)
    models.update(_benchmark_models())
    return models


@pytest.mark.slow  # a fresh Python process; safe-mode loading in this one stays in the default run
def test_deployable_models_load_as_plain_keras_in_a_fresh_process(weighted_distillers, tmp_path):
    folder = tmp_path / "deployable"
    folder.mkdir()
    expected = {}
    for name, model in _deployables(weighted_distillers, tmp_path).items():
        shape = tuple(model.inputs[0].shape[1:])
        x = np.random.default_rng(0).uniform(0, 255, (4, *shape)).astype("float32")
        np.save(folder / f"{name}.npy", x)
        model.save(folder / f"{name}.keras")
        with zipfile.ZipFile(folder / f"{name}.keras") as archive:
            config = archive.read("config.json")
        assert b"keras_kd" not in config and b"Lambda" not in config, name
        expected[name] = model.predict(x, verbose=0)
    shutil.copy(PRETRAINED_TEACHER, folder / "pretrained_teacher.keras")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.save(folder / "pretrained_teacher.npy", x)
    shipped = keras.saving.load_model(PRETRAINED_TEACHER, safe_mode=True)
    expected["pretrained_teacher"] = shipped.predict(x, verbose=0)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run(
        [sys.executable, "-c", FRESH_LOADER, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = np.load(folder / "loaded.npz")
    assert sorted(loaded.files) == sorted(expected)
    for name, outputs in expected.items():
        np.testing.assert_allclose(loaded[name], outputs, rtol=1e-5, atol=1e-5, err_msg=name)


def test_no_keras_kd_code_loads_unsafely_or_builds_a_lambda():
    found = [
        f"{path.relative_to(PACKAGE.parent)}: {pattern}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for pattern in UNSAFE
        if pattern in path.read_text()
    ]
    assert not found


def test_cli_refuses_an_unsafe_file_and_says_why(tmp_path, capsys):
    inputs = keras.Input((4,))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda t: 2.0 * t)(inputs))
    unsafe.save(tmp_path / "unsafe.keras")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(tmp_path / "unsafe.keras"), str(tmp_path / "unsafe.tflite")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "cannot load MODEL" in error and "safe_mode=False" in error
    assert not (tmp_path / "unsafe.tflite").exists()
