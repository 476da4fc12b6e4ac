"""A keras-hub causal language model (a GPT-2 backbone from a tiny config, no
preset download) distilled per token with GKD: dict inputs (``token_ids``,
``padding_mask``), per-token sample weights as the padding mask, the user's
compiled loss (issue 28, point 4)."""

import keras
import numpy as np
import pytest

from keras_kd.distillers import GKD
from keras_kd.losses import gkd_loss
from tests.helpers import assert_same, changed, snapshot

keras_hub = pytest.importorskip("keras_hub")
VOCAB, LENGTH = 50, 8


def language_model(name, layers, hidden):
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCAB,
        num_layers=layers,
        num_heads=2,
        hidden_dim=hidden,
        intermediate_dim=2 * hidden,
        max_sequence_length=LENGTH,
        dropout=0.0,  # the logged step (training mode) and the check (inference) agree
        name=f"{name}_backbone",
    )
    logits = keras.layers.Dense(VOCAB, name="logits")(backbone.output)
    return keras.Model(backbone.inputs, logits, name=name)


def token_batch(n=16, seed=0):
    """Next-token inputs, labels and per-token weights (0 on padding)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, LENGTH + 1))
    real = np.arange(LENGTH + 1)[None] < rng.integers(3, LENGTH + 2, n)[:, None]
    ids = np.where(real, ids, 0).astype("int32")
    x = {"token_ids": ids[:, :-1], "padding_mask": real[:, :-1]}
    return x, ids[:, 1:], (real[:, 1:] & real[:, :-1]).astype("float32")


@pytest.fixture(scope="module")
def pair():
    keras.utils.set_random_seed(0)
    return language_model("hub_student", 1, 16), language_model("hub_teacher", 2, 32)


def test_a_keras_hub_language_model_distills_per_token(pair):
    student, teacher = pair
    x, y, weight = token_batch()
    distiller = GKD(student, teacher, beta=0.5, task_weight=1.0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, metrics=["accuracy"])
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    history = distiller.fit(x, y, sample_weight=weight, batch_size=8, epochs=1, verbose=0)
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    assert all(np.isfinite(v[0]) for v in history.history.values())


def test_the_logged_divergence_counts_the_weighted_tokens_only(pair):
    student, teacher = pair
    x, y, weight = token_batch(8, seed=1)
    distiller = GKD(student, teacher, beta=0.2, temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.train_on_batch(x, y, sample_weight=weight, return_dict=True)
    expected = gkd_loss(teacher(x), student(x), 0.2, 2.0, sample_weight=weight)
    assert logs["gkd_loss"] == pytest.approx(float(expected), rel=1e-5)
    unweighted = gkd_loss(teacher(x), student(x), 0.2, 2.0)
    assert float(expected) != pytest.approx(float(unweighted), rel=1e-3)
