import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.cache import cache_teacher_outputs
from keras_kd.errors import TeacherCacheMismatchError
from tests.distillers.test_methods import METHODS, make
from tests.helpers import assert_same, snapshot, tiny_data, tiny_pair

# FunctionMatching refuses the cache (tests/distillers/test_function_matching.py).
OFFLINE = sorted(name for name, spec in METHODS.items() if spec[0].teacher_cacheable)


def samples(n=32):
    x, y = tiny_data(n)
    return tf.data.Dataset.from_tensor_slices((x, y))


def first_epoch_logs(distiller, dataset, stage="main"):
    """One epoch of ``stage`` alone (no automatic init stage) at learning rate 0."""
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    history = distiller.fit_stages([(stage, 1)], x=dataset.batch(8), verbose=0)[stage].history
    return {k: v[-1] for k, v in history.items()}


@pytest.mark.parametrize("name", OFFLINE)
def test_cached_teacher_gives_the_same_terms_in_every_stage(name):
    distiller, stages = make(name)
    cache = cache_teacher_outputs(distiller, samples())
    assert cache.samples == 32
    for stage, terms in stages:
        plain = first_epoch_logs(distiller, samples(), stage)
        cached = first_epoch_logs(distiller, cache.dataset, stage)  # no mismatch raised
        assert {f"{term}_loss" for term in terms} <= plain.keys()
        assert cached.keys() == plain.keys()
        for key in plain:
            assert cached[key] == pytest.approx(plain[key], rel=1e-4, abs=1e-6), (stage, key)


def test_float16_and_disk_storage(tmp_path):
    student, teacher = tiny_pair()
    distiller = distillers.AttentionTransfer(
        student=student,
        teacher=teacher,
        student_layers=["block1", "block2"],
        teacher_layers=["block1", "block2"],
    )
    full = cache_teacher_outputs(distiller, samples())
    half = cache_teacher_outputs(
        distiller, samples(), dtype="float16", directory=str(tmp_path / "cache")
    )
    # logits (3) + block1 (16*16*8) + block2 (8*8*16) values per sample
    values = 3 + 16 * 16 * 8 + 8 * 8 * 16
    assert (full.bytes_per_sample, half.bytes_per_sample) == (4 * values, 2 * values)
    assert (tmp_path / "cache").exists()
    a, b = first_epoch_logs(distiller, full.dataset), first_epoch_logs(distiller, half.dataset)
    assert b["at_loss"] == pytest.approx(a["at_loss"], rel=1e-2)


def test_shuffling_and_batching_after_the_cache_is_allowed():
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    cache = cache_teacher_outputs(distiller, samples())
    distiller.compile(optimizer="adam")
    history = distiller.fit(cache.dataset.shuffle(32, seed=1).batch(8), epochs=2, verbose=0)
    assert history.epoch == [0, 1]  # no TeacherCacheMismatchError
    assert all(np.isfinite(history.history["kd_loss"]))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_random_augmentation_after_the_cache_is_refused(jit_compile):
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    cache = cache_teacher_outputs(distiller, samples())
    augmented = cache.dataset.map(lambda x, y: (tf.image.flip_left_right(x), y)).batch(8)
    distiller.compile(optimizer="sgd", jit_compile=jit_compile)
    before = snapshot(student)
    with pytest.raises(TeacherCacheMismatchError, match="no longer match the teacher cache"):
        distiller.fit(augmented, epochs=1, verbose=0)
    # Every flipped batch mismatches: the first step was refused and nothing changed.
    assert_same(before, snapshot(student))
    assert int(distiller.optimizer.iterations.numpy()) == 0


def test_random_augmentation_before_the_cache_is_refused():
    # A Keras augmentation layer's seed state advances from one pass to the
    # next, so the cached pass and the training pass see different images.
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    random_flip = keras.layers.RandomFlip("horizontal", seed=1)
    cache = cache_teacher_outputs(distiller, samples().map(lambda x, y: (random_flip(x), y)))
    distiller.compile(optimizer="sgd")
    with pytest.raises(TeacherCacheMismatchError, match="no longer match the teacher cache"):
        distiller.fit(cache.dataset.batch(8), epochs=3, verbose=0)


def test_progress_is_one_line_or_nothing(capsys):
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    cache_teacher_outputs(distiller, samples(), batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
    cache_teacher_outputs(distiller, samples(), batch_size=8, verbose=2)
    assert capsys.readouterr().out.startswith("caching teacher outputs 32/32 - ")
    with pytest.raises(ValueError, match="Received: verbose=3"):
        cache_teacher_outputs(distiller, samples(), verbose=3)


def test_wrong_uses():
    student, teacher = tiny_pair()
    with pytest.raises(ValueError, match="offline keras_kd Distiller"):
        cache_teacher_outputs(distillers.DeepMutualLearning(peers=[student, teacher]), samples())
    distiller = distillers.KD(student=student, teacher=teacher)
    with pytest.raises(ValueError, match="must be unbatched"):
        cache_teacher_outputs(distiller, samples().batch(4))
    with pytest.raises(ValueError, match="Received: dtype='int8'"):
        cache_teacher_outputs(distiller, samples(), dtype="int8")
    with pytest.raises(ValueError, match="must not be empty"):
        cache_teacher_outputs(distiller, samples().take(0))


def test_evaluate_accepts_cached_batches():
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    cache = cache_teacher_outputs(distiller, samples())
    distiller.compile(optimizer="sgd", metrics=["accuracy"])
    logs = distiller.evaluate(cache.dataset.batch(8), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "task_loss", "accuracy"}
    assert np.isfinite(logs["loss"])


# Top-k logits per position (issue 28, point 4): a large vocabulary fits.


def test_top_k_logits_rebuild_the_teachers_top_probabilities_and_the_tail_mass():
    from keras_kd.cache import logits_from_top_k, top_k_logits

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 5, 40)).astype("float32")
    rebuilt = np.asarray(logits_from_top_k(**top_k_logits(logits, 6), classes=40))
    p, q = (np.exp(z - z.max(-1, keepdims=True)) for z in (logits, rebuilt))
    p, q = p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    top = np.argsort(-logits, axis=-1)[..., :6]
    np.testing.assert_allclose(
        np.take_along_axis(q, top, -1), np.take_along_axis(p, top, -1), rtol=1e-5
    )
    rest = np.ones_like(p, dtype=bool)
    np.put_along_axis(rest, top, False, -1)
    np.testing.assert_allclose((q * rest).sum(-1), (p * rest).sum(-1), rtol=1e-4, atol=1e-7)
    tail = q[rest].reshape(2, 5, 34)
    np.testing.assert_allclose(tail, tail[..., :1] * np.ones_like(tail), rtol=1e-5)


def test_a_sequence_teacher_cached_as_top_k_trains_and_stores_less():
    from keras_kd.distillers import GKD
    from tests.helpers import VOCAB, sequence_data, tagger

    keras.utils.set_random_seed(0)
    student, teacher = tagger("cache_student", 6), tagger("cache_teacher", 12)
    teacher.get_layer("logits").kernel.assign(teacher.get_layer("logits").kernel * 20.0)
    x, y = sequence_data(16)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    distiller = GKD(student, teacher, beta=0.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    uncached = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    full = cache_teacher_outputs(distiller, dataset, verbose=0)
    # With one class outside the top k its probability is the tail: exact at T = 1.
    almost = cache_teacher_outputs(distiller, dataset, verbose=0, top_k=VOCAB - 1)
    logs = distiller.fit(almost.dataset.batch(16), epochs=1, verbose=0).history
    assert logs["gkd_loss"][0] == pytest.approx(uncached["gkd_loss"][0], rel=1e-4)
    kept = cache_teacher_outputs(distiller, dataset, verbose=0, top_k=3)
    assert kept.bytes_per_sample < full.bytes_per_sample / 1.5
    logs = distiller.fit(kept.dataset.batch(16), epochs=1, verbose=0).history
    assert np.isfinite(logs["gkd_loss"][0]) and logs["gkd_loss"][0] > 0
    with pytest.raises(ValueError, match=f"top_k={VOCAB}"):
        cache_teacher_outputs(distiller, dataset, verbose=0, top_k=VOCAB)
