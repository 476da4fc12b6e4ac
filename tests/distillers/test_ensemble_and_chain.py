"""Several teachers: the ensemble teacher, and chains of KD fits (teacher assistant)."""

import os

import keras
import numpy as np
import pytest

from keras_kd import distillers
from tests.helpers import assert_same, changed, snapshot, tiny_cnn, tiny_data


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("temperature,weights", [(1.0, None), (4.0, [3.0, 1.0])])
def test_the_ensemble_softens_to_the_weighted_average_of_the_teachers(temperature, weights):
    keras.utils.set_random_seed(0)
    a, b = tiny_cnn("t", 8), tiny_cnn("t", 6)  # same name: nested apart
    teacher = distillers.ensemble_teacher([a, b], weights, temperature)
    x, _ = tiny_data(6)
    w = np.array(weights or [1.0, 1.0]) / sum(weights or [1.0, 1.0])
    expected = w[0] * _softmax(a.predict(x, verbose=0) / temperature) + w[1] * _softmax(
        b.predict(x, verbose=0) / temperature
    )
    got = _softmax(teacher.predict(x, verbose=0) / temperature)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_kd_from_an_ensemble_trains_the_student_and_leaves_the_teachers(tmp_path):
    keras.utils.set_random_seed(0)
    a, b, student = tiny_cnn("a", 8), tiny_cnn("b", 6), tiny_cnn("student", 4)
    before = snapshot(a) + snapshot(b)
    teacher = distillers.ensemble_teacher([a, b], temperature=4.0)
    d = distillers.KD(student, teacher, temperature=4.0)
    d.compile(optimizer="adam")
    x, y = tiny_data(16)
    s_before = snapshot(student)
    assert "kd_loss" in d.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert_same(before, snapshot(a) + snapshot(b))
    assert changed(s_before, snapshot(student))
    teacher.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras")  # safe mode
    np.testing.assert_allclose(loaded.predict(x, verbose=0), teacher.predict(x, verbose=0))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"teachers": []}, "non-empty list.*Received: teachers=\\[\\]"),
        ({"weights": [1.0]}, "one non-negative weight per teacher.*Received: weights=\\[1.0\\]"),
        ({"weights": [1.0, -1.0]}, "Received: weights=-1.0"),
        ({"temperature": 0.0}, "Received: temperature=0.0"),
    ],
)
def test_bad_ensembles_are_refused(kwargs, match):
    teachers = kwargs.pop("teachers", [tiny_cnn("a"), tiny_cnn("b")])
    with pytest.raises(ValueError, match=match):
        distillers.ensemble_teacher(teachers, **kwargs)


def test_a_teacher_assistant_chain_trains_each_stage_once(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    big = tiny_cnn("big", 8)
    big_before = snapshot(big)
    chain = distillers.TeacherAssistantChain(
        big, lambda: tiny_cnn("mid", 6), lambda: tiny_cnn("small", 4), directory=str(tmp_path)
    )
    chain.compile(optimizer="adam", metrics=["accuracy"])
    x, y = tiny_data(16)
    histories = chain.fit(x, y, epochs=1, batch_size=8, verbose=2)
    printed = capsys.readouterr().out
    assert "stage 1 of 2\n" in printed and "stage 2 of 2\n" in printed  # with Keras's epoch lines
    assert sorted(histories) == [1, 2]
    assert [m.name for m in chain.assistants] == ["mid"] and chain.student.name == "small"
    assert_same(big_before, snapshot(big))
    mtimes = [os.path.getmtime(tmp_path / f"generation{g}.keras") for g in (1, 2)]
    assert chain.fit(x, y, epochs=1, verbose=0) == {}  # both stages on disk: nothing retrained
    assert mtimes == [os.path.getmtime(tmp_path / f"generation{g}.keras") for g in (1, 2)]


def test_a_chain_checks_every_stage_before_the_first_trains(tmp_path):
    keras.utils.set_random_seed(0)
    big = tiny_cnn("big", 8)
    built = []

    def build(name, width, num_classes=3):
        def builder():
            built.append(tiny_cnn(name, width, num_classes=num_classes))
            return built[-1]

        return builder

    before = snapshot(big)
    x, y = tiny_data(16)
    with pytest.raises(ValueError, match="stage 2 of 2 \\(`build_student`\\).*Received: student"):
        chain = distillers.TeacherAssistantChain(
            big, build("mid", 6), build("small", 4, num_classes=5), directory=str(tmp_path)
        )
        chain.compile(optimizer="adam")
        chain.fit(x, y, epochs=1, batch_size=8, verbose=0)  # never reached
    assert os.listdir(tmp_path) == []  # no generation1.keras, no backup
    assert_same(before, snapshot(big))
    assert len(built) == 4  # both stages built twice, none trained

    def small_images():
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.GlobalAveragePooling2D()(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(x))

    with pytest.raises(ValueError, match="stage 2 of 3 \\(`builders\\[1\\]`\\).*same shape"):
        distillers.DistillationChain(big, [build("a", 6), small_images, build("c", 4)])
