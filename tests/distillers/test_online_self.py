"""Online (DML) and self-distillation (Born-Again, ONE, BYOT) schemes."""

import os

import keras
import numpy as np
import pytest

from keras_kd import distillers
from keras_kd.export import to_tflite
from tests.helpers import IMAGE_SHAPE, assert_same, changed, snapshot, tiny_cnn, tiny_data


def mlp(name, width=16):
    inputs = keras.Input(IMAGE_SHAPE)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    x = keras.layers.Dense(width, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name=name)


def roundtrip(model, tmp_path, x):
    path = tmp_path / "scheme.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    return loaded


def test_dml_three_peers_of_different_architectures(tmp_path):
    keras.utils.set_random_seed(0)
    peers = [tiny_cnn("cnn_a", 4), tiny_cnn("cnn_b", 8), mlp("mlp")]
    before = [snapshot(p) for p in peers]
    dml = distillers.DeepMutualLearning(peers=peers, deploy_index=1)
    dml.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    x, y = tiny_data(32)
    history = dml.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y))
    for i, peer in enumerate(peers):
        assert changed(before[i], snapshot(peer))
        for key in (f"peer{i}_task_loss", f"peer{i}_kd_loss", f"peer{i}_accuracy"):
            assert key in history.history
        assert f"val_peer{i}_accuracy" in history.history
    assert dml.student is peers[1]
    logs = dml.evaluate(x, y, verbose=0, return_dict=True)
    assert {"peer0_accuracy", "peer1_accuracy", "peer2_accuracy", "accuracy"} <= set(logs)
    loaded = roundtrip(dml, tmp_path, x)
    assert [p.name for p in loaded.peers] == ["cnn_a", "cnn_b", "mlp"]
    assert "loss" in loaded.fit(x, y, epochs=1, verbose=0).history


def test_dml_kd_term_of_a_peer_treats_the_others_as_constants():
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    peers = [tiny_cnn("a", 4), tiny_cnn("b", 4)]
    dml = distillers.DeepMutualLearning(peers=peers)
    x, y = tiny_data(8)
    view = dml.read_batch((tf.constant(x), tf.constant(y)), training=True)
    with tf.GradientTape() as tape:
        kd0 = dml.compute_terms(dml.forward(view, training=True), view)["peer0_kd"]
    assert all(g is None for g in tape.gradient(kd0, peers[1].trainable_variables))


def test_dml_rejects_a_single_peer_and_mismatched_peers():
    with pytest.raises(ValueError, match="at least 2"):
        distillers.DeepMutualLearning(peers=[tiny_cnn("a")])
    with pytest.raises(ValueError, match="share input and output shapes"):
        distillers.DeepMutualLearning(peers=[tiny_cnn("a"), tiny_cnn("b", num_classes=5)])


def test_one_branch_exports_with_the_outputs_it_has_inside_the_network(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_cnn("net", 4)
    one = distillers.ONE(model, cut_layer="block1", branches=3, deploy_index=2)
    one.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    x, y = tiny_data(32)
    history = one.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert {
        "branch_task_loss",
        "ensemble_task_loss",
        "kd_loss",
        "ensemble_accuracy",
        "branch2_accuracy",
    } <= set(history.history)
    assert one.branches == 3 and len(one.branch_heads) == 3 and one.deploy_index == 2
    inside = one.network(x, training=False)["output"][2]
    student = one.student
    np.testing.assert_allclose(student(x), inside, atol=1e-5)
    assert not any("gate" in w.path for w in student.weights)
    assert student.count_params() == model.count_params()
    report = to_tflite(one, tmp_path / "branch.tflite", check_data=(x, y))
    assert report.max_abs_diff < 1e-4
    roundtrip(one, tmp_path, x)


def test_one_needs_two_branches():
    with pytest.raises(ValueError, match="branches.*Received: branches=1"):
        distillers.ONE(tiny_cnn("net"), cut_layer="block1", branches=1)


def test_byot_every_exit_is_standalone_and_matches_the_network(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_cnn("net", 4)
    byot = distillers.BYOT(model, exit_layers=["block1"], deep_layer="block2")
    byot.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    x, y = tiny_data(32)
    history = byot.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert {
        "deep_task_loss",
        "exit0_task_loss",
        "exit0_kd_loss",
        "exit0_feature_loss",
        "exit0_accuracy",
        "exit1_accuracy",
    } <= set(history.history)
    out = byot.network(x, training=False)
    np.testing.assert_allclose(byot.exits[0](x), out["exit0_logits"], atol=1e-5)
    np.testing.assert_allclose(byot.exits[1](x), out["output"], atol=1e-5)
    summary = byot.exit_summary(keras_dataset(x, y))
    assert [s["layer"] for s in summary] == ["block1", "output"]
    assert all(0 <= s["accuracy"] <= 1 and s["parameters"] > 0 for s in summary)
    for i, exit_model in enumerate(byot.exits):
        assert (
            to_tflite(exit_model, tmp_path / f"exit{i}.tflite", check_data=(x, y)).max_abs_diff
            < 1e-4
        )
    roundtrip(byot, tmp_path, x)


def keras_dataset(x, y):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def test_byot_weights_are_one_minus_alpha_and_alpha():
    byot = distillers.BYOT(tiny_cnn("net", 4), exit_layers=["block1"], deep_layer="block2")
    assert (byot.task_weight, byot.kd_weight, byot.feature_weight) == (0.7, 0.3, 0.03)
    assert byot.loss_weights == {
        "deep_task": 1.0,
        "exit0_task": 0.7,
        "exit0_kd": 0.3,
        "exit0_feature": 0.03,
    }


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda: distillers.ONE(tiny_cnn("net"), cut_layer="block1", deploy_branch=1),
            "deploy_branch -> deploy_index.*Received: deploy_branch=1",
        ),
        (
            lambda: distillers.DeepMutualLearning(
                peers=[tiny_cnn("a"), tiny_cnn("b")], distill_weight=1.0
            ),
            "distill_weight -> .*kd_weight.*Received: distill_weight=1.0",
        ),
        (
            lambda: distillers.BYOT(
                tiny_cnn("net"), exit_layers=["block1"], deep_layer="block2", alpha=0.3
            ),
            r"alpha -> task_weight.*and kd_weight.*Received: alpha=0.3",
        ),
    ],
)
def test_online_and_self_schemes_refuse_arguments_renamed_in_0_2(build, match):
    with pytest.raises(TypeError, match=match):
        build()


def test_byot_rejects_sizes_that_stride_2_convs_cannot_bridge():
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, strides=3, padding="same", name="b")(a)
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(b))
    with pytest.raises(ValueError, match="power-of-two"):
        distillers.BYOT(keras.Model(inputs, out), exit_layers=["a"], deep_layer="b")


def test_born_again_keeps_generations_resumes_and_ensembles(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    teacher = tiny_cnn("teacher", 8)
    built = []

    def build():
        built.append(tiny_cnn("same_name", 4))
        return built[-1]

    x, y = tiny_data(32)
    ban = distillers.BornAgain(teacher, build, generations=2, directory=str(tmp_path))
    ban.compile(optimizer=lambda: keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    teacher_before = snapshot(teacher)
    histories = ban.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    assert sorted(histories) == [1, 2] and len(ban.models) == 2
    assert_same(teacher_before, snapshot(teacher))
    assert os.path.exists(tmp_path / "generation1.keras") and os.path.exists(
        tmp_path / "generation2.keras"
    )
    gen2 = snapshot(ban.models[1])

    resumed = distillers.BornAgain(teacher, build, generations=2, directory=str(tmp_path))
    resumed.compile(optimizer=lambda: keras.optimizers.Adam(1e-2))
    assert resumed.fit(x, y, epochs=1, verbose=2) == {}
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"generation {g} of 2: loaded from {tmp_path}/generation{g}.keras" for g in (1, 2)
    ]
    assert_same(gen2, snapshot(resumed.student))

    ensemble = resumed.ensemble()
    probs = np.mean([keras.ops.softmax(m(x)).numpy() for m in resumed.models], axis=0)
    np.testing.assert_allclose(keras.ops.softmax(ensemble(x)).numpy(), probs, atol=1e-5)
