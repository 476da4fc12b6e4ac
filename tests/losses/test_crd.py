import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import (
    contrast_loss,
    contrast_normalizer,
    contrast_scores,
    crd_loss,
    memory_update,
    normalize_embedding,
)


def unit_rows(rng, shape):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


def numpy_nce(p, n):
    k = p.shape[1] - 1
    noise = k / n
    positive = np.log(p[:, 0] / (p[:, 0] + noise + 1e-7))
    negative = np.log(noise / (p[:, 1:] + noise + 1e-7))
    return -(positive.sum() + negative.sum()) / p.shape[0]


def test_scores_and_loss_match_numpy():
    rng = np.random.default_rng(0)
    e, memory = unit_rows(rng, (3, 8)), unit_rows(rng, (20, 8))
    indices = rng.integers(0, 20, (3, 6)).astype("int32")
    expected = np.exp(np.einsum("bkd,bd->bk", memory[indices], e) / 0.07)
    scores = contrast_scores(e, memory, indices, 0.07).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    z = float(contrast_normalizer(scores, 20))
    np.testing.assert_allclose(z, expected.mean() * 20, rtol=1e-6)
    np.testing.assert_allclose(
        float(contrast_loss(scores / z, 20)), numpy_nce(expected / z, 20), 1e-5
    )


def test_the_loss_falls_as_the_positive_row_aligns_with_the_embedding():
    rng = np.random.default_rng(1)
    e_s, e_t = unit_rows(rng, (4, 16)), unit_rows(rng, (4, 16))
    memory_s, memory_t = unit_rows(rng, (30, 16)), unit_rows(rng, (30, 16))
    index = np.array([3, 7, 11, 19])
    negatives = rng.integers(20, 30, (4, 10))
    indices = np.concatenate([index[:, None], negatives], axis=1)
    losses = []
    for mix in (0.0, 0.5, 1.0):  # the positive rows move onto the other side's embedding
        m_t, m_s = memory_t.copy(), memory_s.copy()
        for memory, e in ((m_t, e_s), (m_s, e_t)):
            rows = (1 - mix) * memory[index] + mix * e
            memory[index] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        losses.append(float(crd_loss(e_t, e_s, m_t, m_s, indices, 30, 0.07, 50.0, 50.0)))
    assert losses[0] > losses[1] > losses[2]


def test_memory_rows_stay_unit_norm_and_keep_their_momentum():
    rng = np.random.default_rng(2)
    rows = rng.uniform(-0.6, 0.6, (5, 8)).astype("float32")  # the initial, not unit, rows
    e = unit_rows(rng, (5, 8))
    new = memory_update(rows, e, 0.5).numpy()
    np.testing.assert_allclose(np.linalg.norm(new, axis=1), 1.0, rtol=1e-6)
    mixed = 0.5 * rows + 0.5 * e
    np.testing.assert_allclose(new, mixed / np.linalg.norm(mixed, axis=1, keepdims=True), 1e-6)
    np.testing.assert_allclose(memory_update(rows, e, 0.0), e, rtol=1e-6)


def test_gradients_reach_the_embedding_not_the_memory():
    rng = np.random.default_rng(3)
    raw = tf.Variable(rng.normal(size=(2, 4)).astype("float32"))
    memory = tf.Variable(unit_rows(rng, (10, 4)))
    with tf.GradientTape() as tape:
        scores = contrast_scores(normalize_embedding(raw), memory, [[0, 3, 5], [1, 2, 9]])
        loss = contrast_loss(scores / 40.0, 10)
    grad_raw, grad_memory = tape.gradient(loss, [raw, memory])
    assert grad_memory is None and np.all(np.isfinite(grad_raw)) and np.any(grad_raw != 0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: memory_update(np.ones((1, 2)), np.ones((1, 2)), 1.0), "momentum=1.0"),
        (lambda: contrast_scores(np.ones((1, 2)), np.ones((3, 2)), [[0, 1]], 0.0), "temperature"),
        (lambda: contrast_loss(np.ones((1, 3)), 0), "num_samples=0"),
    ],
)
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
