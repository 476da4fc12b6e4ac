"""Distiller-level terms against numbers computed outside keras_kd.

`tests/losses/test_reference_values.py` checks the loss functions; these
tests check what a real distiller *logs* after one training step
(``train_on_batch`` with ``SGD(0)``), so a swapped tap, a lost factor or a
wrong weight in a distiller's wiring fails here even when every loss function
is right.

Stored networks: with batch size B and the batch ``x = eye(B)``, a layer
``Dense(n, use_bias=False)`` whose kernel is a stored tensor reshaped to
(B, n) outputs that tensor exactly (``1 * v + 0 * ...`` is exact in float32);
a ``Reshape`` named like the tap restores its shape. The logits come from a
last ``Dense`` on the input and every tapped feature, whose kernel is the
stored logits over zeros, so they are exact too and every tap is part of the
model's graph. Teacher and student then output exactly the stored tensors.

Two kinds of check:

* pinned: the logged term equals the reference value of
  ``tests/reference/values.json`` (reference code or paper form on the same
  inputs). Where trainable adapters sit between the taps and the loss (AB's
  connectors, FT's paraphraser and translator, FitNet's regressor, ONE's
  gate, BYOT's exit heads), their weights are set so that they pass the
  stored tensors on; with BatchNorm in training mode (batch statistics) or a
  softmax gate that only holds up to float32 rounding, hence `RTOL_NEAR`.
* wiring: the logged term equals keras_kd's own loss function applied by hand
  to the distiller's adapters and networks (where no reference number can be
  reproduced through the adapter).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd.distillers import (
    BYOT,
    FSP,
    KD,
    NST,
    ONE,
    RKD,
    ActivationBoundary,
    AttentionTerm,
    AttentionTransfer,
    DeepMutualLearning,
    Distiller,
    FactorTransfer,
    FitNet,
    GradientAttentionTransfer,
    NSTTerm,
)
from keras_kd.labels import task_loss_per_sample
from keras_kd.losses import (
    activation_boundary_loss,
    factor_transfer_loss,
    hint_loss,
    kd_loss,
)
from tests.reference import reference_inputs, reference_params, reference_value

RTOL = 2e-6  # exact float32 inputs: float32 evaluation against float64 references
RTOL_NEAR = 1e-5  # adapters that pass the stored tensors on up to float32 rounding

TASK = reference_inputs("task_cross_entropy")  # logits (4, 10), labels (4,)
B = 4


def assert_close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(float(actual), float(expected), rtol=rtol, atol=0.0)


def eye(batch=B):
    return np.eye(batch, dtype="float32")


def stored_model(name, features, logits):
    """A model whose layer ``tap`` outputs ``features[tap]`` and whose output
    is ``logits`` exactly, on the batch ``eye(batch)``."""
    batch = logits.shape[0]
    inputs = keras.Input((batch,), name=f"{name}_input")
    parts, kernels = [inputs], [logits]
    for tap, value in features.items():
        assert value.shape[0] == batch, tap
        size = int(np.prod(value.shape[1:]))
        dense = keras.layers.Dense(size, use_bias=False, name=f"{tap}_dense")
        feature = keras.layers.Reshape(value.shape[1:], name=tap)(dense(inputs))
        dense.set_weights([value.reshape(batch, size)])
        parts.append(keras.layers.Flatten(name=f"{tap}_flat")(feature))
        kernels.append(np.zeros((size, logits.shape[1]), "float32"))
    joined = keras.layers.Concatenate(name="joined")(parts) if len(parts) > 1 else inputs
    head = keras.layers.Dense(logits.shape[1], use_bias=False, name="logits")
    model = keras.Model(inputs, head(joined), name=name)
    head.set_weights([np.concatenate(kernels).astype("float32")])
    return model


def step(distiller, x, y, stage=None):
    """One logged training step; SGD(0) leaves every trained weight as set."""
    if stage is not None:
        distiller.set_stage(stage)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    return distiller.train_on_batch(x, y, return_dict=True)


def other_logits(batch=B, classes=10, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, classes)).astype("float32")


# The construction itself.


def test_stored_models_output_the_stored_tensors_exactly():
    x = reference_inputs("attention_transfer_two_pairs")
    features = {"f0": x["student_feat0"], "f1": x["student_feat1"]}
    model = stored_model("m", features, TASK["logits"])
    taps = keras.Model(model.input, [model.output] + [model.get_layer(n).output for n in features])
    logits, *feats = taps(eye(), training=True)
    np.testing.assert_array_equal(logits.numpy(), TASK["logits"])
    for got, want in zip(feats, features.values(), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


# KD and the task term.


@pytest.mark.parametrize("name", ["kd_loss", "kd_loss_t1"])
def test_kd_term(name):
    x = reference_inputs(name)
    teacher = stored_model("teacher", {}, x["teacher_logits"])
    student = stored_model("student", {}, x["student_logits"])
    distiller = KD(student, teacher, **reference_params(name))
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["kd_loss"], reference_value(name))
    # RepDistiller's CIFAR weights (CE 0.1, KD 0.9) on the logged terms.
    assert_close(logs["loss"], 0.1 * logs["task_loss"] + 0.9 * reference_value(name))


@pytest.mark.parametrize("one_hot", [False, True])
def test_task_term(one_hot):
    teacher = stored_model("teacher", {}, other_logits())
    student = stored_model("student", {}, TASK["logits"])
    labels = np.eye(10, dtype="float32")[TASK["labels"]] if one_hot else TASK["labels"]
    logs = step(KD(student, teacher, task_weight=1.0, kd_weight=0.0), eye(), labels)
    assert_close(logs["task_loss"], reference_value("task_cross_entropy"))
    assert_close(logs["loss"], reference_value("task_cross_entropy"))


# Attention transfer.


@pytest.mark.parametrize(
    "pairs, expected",
    [
        ([0, 1], reference_value("attention_transfer_two_pairs")),
        ([1, 0], reference_value("attention_transfer_two_pairs")),
        ([0], reference_value("attention_transfer_two_pairs", "per_pair")[0]),
        ([1], reference_value("attention_transfer_two_pairs", "per_pair")[1]),
    ],
)
def test_attention_transfer_sums_its_pairs(pairs, expected):
    # RepDistiller returns one AT loss per pair and sums them in train_student.
    x = reference_inputs("attention_transfer_two_pairs")
    teacher = stored_model(
        "teacher", {f"t{i}": x[f"teacher_feat{i}"] for i in (0, 1)}, other_logits()
    )
    student = stored_model(
        "student", {f"s{i}": x[f"student_feat{i}"] for i in (0, 1)}, TASK["logits"]
    )
    distiller = AttentionTransfer(
        student, teacher, [f"s{i}" for i in pairs], [f"t{i}" for i in pairs], p=2.0
    )
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["at_loss"], expected)
    assert_close(logs["task_loss"], reference_value("task_cross_entropy"))
    total = reference_value("task_cross_entropy") + 1000.0 * expected  # beta = 1000
    assert_close(logs["loss"], total)


@pytest.mark.parametrize("name", ["attention_transfer_loss", "attention_transfer_loss_pooled"])
def test_attention_transfer_one_pair(name):
    # The pooled case pools the student's 8x8 map to the teacher's 4x4.
    x = reference_inputs(name)
    teacher = stored_model("teacher", {"t": x["teacher_feat"]}, other_logits())
    student = stored_model("student", {"s": x["student_feat"]}, TASK["logits"])
    distiller = AttentionTransfer(student, teacher, ["s"], ["t"], **reference_params(name))
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["at_loss"], reference_value(name))


def _linear_model(kernel, bias, name):
    inputs = keras.Input((4, 4, 3))
    dense = keras.layers.Dense(kernel.shape[1], name=f"{name}_dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)), name=name)
    dense.set_weights([kernel, bias])
    return model


def test_gradient_attention_transfer_term_is_half_the_loss():
    # Linear models on the stored x give the reference logits; the input
    # gradients J of each summed CE are taken inside the distiller.
    name = "gradient_attention_linear"
    x = reference_inputs(name)
    teacher = _linear_model(x["teacher_kernel"], x["teacher_bias"], "teacher")
    student = _linear_model(x["student_kernel"], x["student_bias"], "student")
    distiller = GradientAttentionTransfer(student, teacher)
    logs = step(distiller, x["x"], x["y"])
    # The paper's beta/2: the logged term is half the reference loss.
    assert reference_params(name)["beta_over_2"] == 0.5
    assert_close(logs["gradient_at_loss"], reference_value(name, "at_term"))
    assert_close(logs["gradient_at_loss"], 0.5 * reference_value(name))
    assert_close(logs["task_loss"], reference_value(name, "task"))
    total = reference_value(name, "task") + 1000.0 * reference_value(name, "at_term")
    assert_close(logs["loss"], total)


# NST and RKD.


@pytest.mark.parametrize(
    "cases", [["nst_loss"], ["nst_loss_pooled"], ["nst_loss", "nst_loss_pooled"]]
)
def test_nst_sums_its_pairs(cases):
    teacher_maps, student_maps = {}, {}
    for i, name in enumerate(cases):
        x = reference_inputs(name)
        teacher_maps[f"t{i}"], student_maps[f"s{i}"] = x["teacher_feat"], x["student_feat"]
    teacher = stored_model("teacher", teacher_maps, other_logits())
    student = stored_model("student", student_maps, TASK["logits"])
    distiller = NST(student, teacher, list(student_maps), list(teacher_maps))
    logs = step(distiller, eye(), TASK["labels"])
    expected = sum(reference_value(name) for name in cases)
    assert_close(logs["nst_loss"], expected)
    assert_close(logs["loss"], reference_value("task_cross_entropy") + 50.0 * expected)


@pytest.mark.parametrize("name", ["rkd_loss", "rkd_loss_maps"])
@pytest.mark.parametrize(
    "weights, key", [((25.0, 50.0), "value"), ((1.0, 0.0), "distance"), ((0.0, 1.0), "angle")]
)
def test_rkd_term(name, weights, key):
    x = reference_inputs(name)
    batch = x["teacher_emb"].shape[0]
    teacher = stored_model("teacher", {"t": x["teacher_emb"]}, other_logits(batch, 3))
    student = stored_model("student", {"s": x["student_emb"]}, other_logits(batch, 3, seed=1))
    distance_weight, angle_weight = weights
    if key == "value":
        assert reference_params(name) == {"distance_weight": 25.0, "angle_weight": 50.0}
    distiller = RKD(
        student, teacher, ["s"], ["t"], distance_weight=distance_weight, angle_weight=angle_weight
    )
    logs = step(distiller, eye(batch), np.arange(batch) % 3)
    assert_close(logs["rkd_loss"], reference_value(name, key))


# Init-stage terms: FSP and AB.


def test_fsp_init_stage_sums_consecutive_pairs():
    x = reference_inputs("fsp_loss")
    teacher = stored_model(
        "teacher", {f"t{i}": x[f"teacher_feat{i}"] for i in range(3)}, other_logits()
    )
    student = stored_model(
        "student", {f"s{i}": x[f"student_feat{i}"] for i in range(3)}, TASK["logits"]
    )
    distiller = FSP(student, teacher, ["s0", "s1", "s2"], ["t0", "t1", "t2"])
    logs = step(distiller, eye(), TASK["labels"], stage="init")
    assert set(logs) == {"fsp_loss", "loss"}
    assert_close(logs["fsp_loss"], reference_value("fsp_loss"))
    # RepDistiller's init stage minimizes the unweighted sum (feature_weight 1).
    assert_close(logs["loss"], reference_value("fsp_loss"))


def _batch_stats(value):
    """Per-channel batch mean and variance, as BatchNorm takes them in training."""
    v = np.asarray(value, "float64")
    axes = tuple(range(v.ndim - 1))
    return v.mean(axis=axes), v.var(axis=axes)


def _pass_through_batch_norm(layer, value):
    """Sets a training-mode BatchNorm to give back ``value`` (up to rounding)."""
    mean, var = _batch_stats(value)
    gamma = np.sqrt(var + layer.epsilon).astype("float32")
    layer.set_weights([gamma, mean.astype("float32"), *layer.get_weights()[2:]])


def _identity_conv(layer, channels_in, channels_out):
    """A conv whose center tap copies the first input channels (zero bias)."""
    weights = layer.get_weights()
    kernel = np.zeros_like(weights[0])
    k = kernel.shape[0] // 2
    kernel[k, k] = np.eye(channels_in, channels_out, dtype="float32")
    layer.set_weights([kernel, *[np.zeros_like(w) for w in weights[1:]]])


def _ab_distiller():
    name = "activation_boundary_two_layers"
    x = reference_inputs(name)
    teacher = stored_model(
        "teacher", {f"t{i}": x[f"teacher_preact{i}"] for i in (0, 1)}, other_logits()
    )
    student = stored_model(
        "student", {f"s{i}": x[f"student_preact{i}"] for i in (0, 1)}, TASK["logits"]
    )
    params = reference_params(name)
    distiller = ActivationBoundary(
        student, teacher, ["s0", "s1"], ["t0", "t1"], margin=params["margin"]
    )
    return distiller, x, params


def test_activation_boundary_init_stage_against_reference():
    # Connector i (1x1 conv + BatchNorm in training mode) is set to pass the
    # student's map on: identity kernel, gamma = sqrt(batch var + eps),
    # beta = batch mean. Exact only up to float32 rounding of the BatchNorm.
    name = "activation_boundary_two_layers"
    distiller, x, params = _ab_distiller()
    for i, connector in enumerate(distiller.adapters):
        channels = x[f"student_preact{i}"].shape[-1]
        _identity_conv(connector.get_layer(f"connector_{i}_conv"), channels, channels)
        _pass_through_batch_norm(connector.get_layer(f"connector_{i}_bn"), x[f"student_preact{i}"])
        passed = connector(x[f"student_preact{i}"], training=True).numpy()
        np.testing.assert_allclose(passed, x[f"student_preact{i}"], rtol=0, atol=2e-6)
    # RepDistiller's ABLoss defaults: layer weights [0.5, 1] and the 3/1000 scale.
    ab = distiller.all_terms[-1]
    assert ab.layer_weights == params["layer_weights"]
    assert distiller.feature_weight == params["distill_weight"]
    logs = step(distiller, eye(), TASK["labels"], stage="init")
    assert set(logs) == {"ab_loss", "loss"}
    # The logged raw term excludes the weight; the total includes it.
    assert_close(params["distill_weight"] * logs["ab_loss"], reference_value(name), RTOL_NEAR)
    assert_close(logs["loss"], reference_value(name), RTOL_NEAR)


def test_activation_boundary_term_wiring():
    # With trained-looking (random) connectors: the term is the layer-weighted
    # sum of the loss of teacher map i and connector i of student map i.
    distiller, x, params = _ab_distiller()
    logs = step(distiller, eye(), TASK["labels"], stage="init")
    expected = sum(
        w
        * float(
            activation_boundary_loss(
                x[f"teacher_preact{i}"],
                distiller.adapters[i](x[f"student_preact{i}"], training=True),
                params["margin"],
            )
        )
        for i, w in enumerate(params["layer_weights"])
    )
    assert_close(logs["ab_loss"], expected)


# Factor transfer and FitNet: trainable adapters between taps and the loss.


def _ft_distiller():
    x = reference_inputs("factor_transfer_repdistiller")
    # RepDistiller's factor is mean_c F^2, so |F| has the same loss as F. The
    # taps hold |F|, which the adapters' LeakyReLUs then leave unchanged: the
    # teacher's has 16 channels (rate 0.5 -> a factor of 8), the student's 8.
    t_factor, s_factor = np.abs(x["teacher_factor"]), np.abs(x["student_factor"])
    t_tap = np.concatenate([t_factor, np.ones_like(t_factor)], axis=-1)
    teacher = stored_model("teacher", {"t": t_tap}, other_logits())
    student = stored_model("student", {"s": s_factor}, TASK["logits"])
    distiller = FactorTransfer(student, teacher, ["s"], ["t"])
    return distiller, t_tap, s_factor, t_factor


def test_factor_transfer_term_against_reference():
    # Paraphraser encoder (BatchNorm in inference mode): identity 3x3 convs
    # (the second keeps the first 8 of 16 channels), moving mean 0, variance 1,
    # gamma sqrt(1 + eps). Translator (BatchNorm in training mode): identity
    # convs, each BatchNorm passing its batch on (gamma = sqrt(batch var +
    # eps), beta = batch mean). Both then output |stored factor| up to float32
    # rounding.
    name = "factor_transfer_repdistiller"
    distiller, t_tap, s_tap, t_factor = _ft_distiller()
    ft = distiller.all_terms[2]
    assert (ft.name, ft.form, ft.p, ft.rate) == ("ft", "repdistiller", 1.0, 0.5)
    assert distiller.feature_weight == reference_params(name)["repdistiller_weight"]
    for i, (c_in, c_out) in enumerate([(16, 16), (16, 8), (8, 8)]):
        _identity_conv(ft.encoder.get_layer(f"paraphraser_enc{i}_conv"), c_in, c_out)
        bn = ft.encoder.get_layer(f"paraphraser_enc{i}_bn")
        gamma = np.full(c_out, np.sqrt(1.0 + bn.epsilon), "float32")
        zeros, ones = np.zeros(c_out, "float32"), np.ones(c_out, "float32")
        bn.set_weights([gamma, zeros, zeros, ones])
        _identity_conv(ft.translator.get_layer(f"translator{i}_conv"), 8, 8)
        _pass_through_batch_norm(ft.translator.get_layer(f"translator{i}_bn"), s_tap)
    factors = [ft.encoder(t_tap, training=False), ft.translator(s_tap, training=True)]
    for got, want in zip(factors, [t_factor, s_tap], strict=True):
        # A few float32 ulps (values up to ~4): oneDNN's batch statistics on
        # some CPUs reduce in another order than NumPy.
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["ft_loss"], reference_value(name), RTOL_NEAR)
    total = reference_value("task_cross_entropy") + 200.0 * reference_value(name)
    assert_close(logs["loss"], total, RTOL_NEAR)


def test_factor_transfer_term_wiring():
    # Random adapters: the term is the RepDistiller-form loss of the frozen
    # encoder (inference mode) on the teacher's tap and the translator
    # (training mode) on the student's; not reference-pinned.
    distiller, t_tap, s_tap, _ = _ft_distiller()
    ft = distiller.all_terms[2]
    logs = step(distiller, eye(), TASK["labels"])
    expected = factor_transfer_loss(
        ft.encoder(t_tap, training=False),
        ft.translator(s_tap, training=True),
        p=1.0,
        form="repdistiller",
    )
    assert_close(logs["ft_loss"], expected)
    # The init stage: the paraphraser reconstructs the teacher's tap.
    logs = step(distiller, eye(), TASK["labels"], stage="init")
    assert set(logs) == {"reconstruction_loss", "loss"}
    expected = hint_loss(t_tap, ft.paraphraser(t_tap, training=True))
    assert_close(logs["reconstruction_loss"], expected)


def test_fitnet_hint_with_identity_regressor_against_reference():
    # regressor="conv" (the paper's plain regressor) with an identity 1x1
    # kernel and zero bias passes the student's map on exactly.
    x = reference_inputs("hint_loss")
    teacher = stored_model("teacher", {"t": x["teacher_feat"]}, other_logits())
    student = stored_model("student", {"s": x["student_feat"]}, TASK["logits"])
    distiller = FitNet(student, teacher, ["s"], ["t"], regressor="conv")
    _identity_conv(distiller.adapters[0].get_layer("regressor_0_conv"), 8, 8)
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["hint_loss"], reference_value("hint_loss"))
    total = reference_value("task_cross_entropy") + 100.0 * reference_value("hint_loss")
    assert_close(logs["loss"], total)


def test_fitnet_hint_term_wiring():
    # RepDistiller's ConvReg (conv + BN + ReLU, random): hint of regressor(s).
    x = reference_inputs("hint_loss")
    teacher = stored_model("teacher", {"t": x["teacher_feat"]}, other_logits())
    student = stored_model("student", {"s": x["student_feat"]}, TASK["logits"])
    distiller = FitNet(student, teacher, ["s"], ["t"])
    logs = step(distiller, eye(), TASK["labels"])
    regressed = distiller.adapters[0](x["student_feat"], training=True)
    assert_close(logs["hint_loss"], hint_loss(x["teacher_feat"], regressed))


# Composed terms: each keeps its own taps and weight.


def test_composed_terms_keep_their_taps():
    at, kd = reference_inputs("attention_transfer_two_pairs"), reference_inputs("kd_loss")
    nst = reference_inputs("nst_loss")
    teacher = stored_model(
        "teacher",
        {"a0": at["teacher_feat0"], "a1": at["teacher_feat1"], "n": nst["teacher_feat"]},
        kd["teacher_logits"],
    )
    student = stored_model(
        "student",
        {"a0": at["student_feat0"], "a1": at["student_feat1"], "n": nst["student_feat"]},
        kd["student_logits"],
    )
    distiller = Distiller(
        student,
        teacher,
        terms=[AttentionTerm(1000.0, ["a0", "a1"], ["a0", "a1"]), NSTTerm(50.0, ["n"], ["n"])],
        task_weight=0.1,
        kd_weight=0.9,
        temperature=4.0,
    )
    logs = step(distiller, eye(), TASK["labels"])
    assert_close(logs["kd_loss"], reference_value("kd_loss"))
    assert_close(logs["at_loss"], reference_value("attention_transfer_two_pairs"))
    assert_close(logs["nst_loss"], reference_value("nst_loss"))
    task = float(tf.reduce_mean(task_loss_per_sample(TASK["labels"], kd["student_logits"])))
    assert_close(logs["task_loss"], task)
    total = (
        0.1 * task
        + 0.9 * reference_value("kd_loss")
        + 1000.0 * reference_value("attention_transfer_two_pairs")
        + 50.0 * reference_value("nst_loss")
    )
    assert_close(logs["loss"], total)


# Online and self distillation.


def test_dml_peer_terms():
    # The paper's mean over the other peers (the authors' code sums them).
    x = reference_inputs("dml")
    params = reference_params("dml")
    peers = [stored_model(f"peer{i}", {}, x[f"peer{i}_logits"]) for i in range(3)]
    distiller = DeepMutualLearning(
        peers,
        temperature=params["temperature"],
        task_weight=params["task_weight"],
        kd_weight=params["distill_weight"],
    )
    logs = step(distiller, eye(), x["labels"])
    total = 0.0
    for i in range(3):
        assert_close(logs[f"peer{i}_task_loss"], reference_value("dml", f"peer{i}_task"))
        assert_close(logs[f"peer{i}_kd_loss"], reference_value("dml", f"peer{i}_kl"))
        total += reference_value("dml", f"peer{i}_task") + reference_value("dml", f"peer{i}_kl")
    assert_close(logs["loss"], total)


def _one_model():
    inputs = keras.Input((B,))
    cut = keras.layers.Reshape((1, 1, B), name="cut")(inputs)
    head = keras.layers.Dense(10, use_bias=False, name="head")
    return keras.Model(inputs, head(keras.layers.Flatten(name="flat")(cut)), name="net")


def test_one_terms():
    # The shared part is the one-hot batch as a 1x1 map, so the gate's pooled
    # input is one-hot too: a gate kernel of log(gate) and a zero bias give the
    # stored gate weights after the softmax (up to float32 rounding), and each
    # branch head's kernel is that branch's stored logits.
    x = reference_inputs("one")
    params = reference_params("one")
    distiller = ONE(
        _one_model(),
        "cut",
        branches=3,
        temperature=params["temperature"],
        task_weight=params["task_weight"],
        kd_weight=params["distill_weight"],
    )
    for i, head in enumerate(distiller.branch_heads):
        head.set_weights([x[f"branch{i}_logits"]])
    dense = distiller.gate.get_layer("gate_dense")
    dense.set_weights([np.log(x["gate"]), np.zeros(3, "float32")])
    out = distiller.network(eye(), training=True)
    np.testing.assert_allclose(out["gate"].numpy(), x["gate"], rtol=1e-6)
    for i, z in enumerate(out["output"]):
        np.testing.assert_array_equal(z.numpy(), x[f"branch{i}_logits"])
    logs = step(distiller, eye(), x["labels"])
    assert_close(logs["branch_task_loss"], reference_value("one", "branch_task"))
    assert_close(logs["ensemble_task_loss"], reference_value("one", "ensemble_task"), RTOL_NEAR)
    assert_close(logs["kd_loss"], reference_value("one", "kd"), RTOL_NEAR)
    assert_close(logs["loss"], reference_value("one", "total"), RTOL_NEAR)


def _byot_distiller():
    x = reference_inputs("byot")
    # Exit taps whose BYOT bottleneck (identity 1x1 conv, BatchNorm in training
    # mode, ReLU) outputs v * one-hot maps: channel b is 1 for sample b only, so
    # after the batch normalization sample b is positive there and every other
    # sample negative, which the ReLU zeroes exactly.
    onehot = np.zeros((B, 2, 2, 8), "float32")
    for b in range(B):
        onehot[b, :, :, b] = 1.0
    features = {"exit0": onehot, "exit1": onehot, "deep": x["deep_feature"]}
    model = stored_model("net", features, x["deep_logits"])
    params = reference_params("byot")
    distiller = BYOT(
        model,
        ["exit0", "exit1"],
        "deep",
        temperature=params["temperature"],
        task_weight=1.0 - params["alpha"],
        kd_weight=params["alpha"],
        feature_weight=params["feature_weight"],
    )
    return distiller, x, params, onehot


def test_byot_terms():
    # Deep task: pinned exactly. Exit task and KD: pinned; each exit's
    # classifier (pooling + dense) gets the kernel stored logits / v, so its
    # logits equal the stored ones up to one rounding. Exit feature terms:
    # wiring only -- the bottleneck ends in a ReLU and the stored exit features
    # have negative entries, so no weights make it output them.
    distiller, x, params, onehot = _byot_distiller()
    for i in range(2):
        bottleneck = distiller.network.get_layer(f"exit{i}_bottleneck")
        _identity_conv(bottleneck.get_layer(f"exit{i}_bottleneck_reduce"), 8, 8)
        v = float(bottleneck(onehot, training=True).numpy()[0, 0, 0, 0])
        classifier = distiller.network.get_layer(f"exit{i}_classifier")
        kernel = np.zeros((8, 10), "float32")
        kernel[:B] = x[f"exit{i}_logits"] / np.float32(v)
        classifier.set_weights([kernel, np.zeros(10, "float32")])
    out = distiller.network(eye(), training=True)
    np.testing.assert_array_equal(out["output"].numpy(), x["deep_logits"])
    np.testing.assert_array_equal(out["deep_feature"].numpy(), x["deep_feature"])
    for i in range(2):
        np.testing.assert_allclose(out[f"exit{i}_logits"].numpy(), x[f"exit{i}_logits"], rtol=1e-6)
    logs = step(distiller, eye(), x["labels"])
    assert_close(logs["deep_task_loss"], reference_value("byot", "deep_task"))
    total = logs["deep_task_loss"]
    for i in range(2):
        assert_close(
            logs[f"exit{i}_task_loss"], reference_value("byot", f"exit{i}_task"), RTOL_NEAR
        )
        assert_close(logs[f"exit{i}_kd_loss"], reference_value("byot", f"exit{i}_kd"), RTOL_NEAR)
        feature = hint_loss(x["deep_feature"], out[f"exit{i}_feature"])
        assert_close(logs[f"exit{i}_feature_loss"], feature)
        total += (1 - params["alpha"]) * logs[f"exit{i}_task_loss"]
        total += params["alpha"] * logs[f"exit{i}_kd_loss"]
        total += params["feature_weight"] * logs[f"exit{i}_feature_loss"]
    assert_close(logs["loss"], total)


def test_byot_terms_wiring():
    # Random exit heads: every exit term from the network's own outputs, the
    # deepest logits and feature as the targets.
    distiller, x, params, _ = _byot_distiller()
    logs = step(distiller, eye(), x["labels"])
    out = distiller.network(eye(), training=True)
    labels = tf.constant(x["labels"])
    for i in range(2):
        z = out[f"exit{i}_logits"]
        task = tf.reduce_mean(task_loss_per_sample(labels, z))
        assert_close(logs[f"exit{i}_task_loss"], task)
        assert_close(logs[f"exit{i}_kd_loss"], kd_loss(x["deep_logits"], z, params["temperature"]))
        feature = hint_loss(x["deep_feature"], out[f"exit{i}_feature"])
        assert_close(logs[f"exit{i}_feature_loss"], feature)
