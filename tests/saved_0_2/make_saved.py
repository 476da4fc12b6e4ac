"""Writes one saved distiller of each kind with keras_kd 0.2 (run once, at 0.2).

`tests/test_saved_0_2.py` loads these files with the current code: a distiller
saved by 0.2 must load with the same predictions and configuration, or fail
naming what changed. Run from the repository root at a 0.2 commit:
``python tests/saved_0_2/make_saved.py``.
"""

import json
import pathlib

import keras
import numpy as np

from keras_kd import distillers
from tests.helpers import tiny_cnn, tiny_data, tiny_pair

HERE = pathlib.Path(__file__).resolve().parent


def taps(*names):
    return {"student_layers": list(names), "teacher_layers": list(names)}


def offline():
    return {
        "kd": (distillers.KD, {"temperature": 2.0}),
        "dkd": (distillers.DKD, {"beta": 2.0, "warmup_epochs": 3}),
        "dist": (distillers.DIST, {}),
        "fitnet": (distillers.FitNet, {**taps("block1"), "init_epochs": 1}),
        "at": (distillers.AttentionTransfer, {**taps("block1", "block2"), "kd_weight": 0.5}),
        "gradient_at": (distillers.GradientAttentionTransfer, {}),
        "nst": (distillers.NST, taps("block2")),
        "ft": (distillers.FactorTransfer, {**taps("block2"), "init_epochs": 1}),
        "ab": (distillers.ActivationBoundary, {**taps("block1_pre"), "init_epochs": 1}),
        "rkd": (distillers.RKD, taps("pool")),
        "crd": (distillers.CRD, {**taps("pool"), "num_samples": 32, "num_negatives": 8}),
        "function_matching": (distillers.FunctionMatching, {}),
        "composed": (
            distillers.Distiller,
            {
                "kd_weight": 0.9,
                "terms": [
                    distillers.AttentionTerm(1000.0, ["block1"], ["block1"]),
                    distillers.NSTTerm(50.0, ["block2"], ["block2"]),
                ],
            },
        ),
        "resized_teacher": (
            distillers.KD,
            {"teacher_input": keras.layers.Resizing(16, 16)},
        ),
    }


def build(name):
    keras.utils.set_random_seed(0)
    if name == "dml":
        return distillers.DeepMutualLearning([tiny_cnn("peer_a"), tiny_cnn("peer_b")])
    if name == "one":
        return distillers.ONE(tiny_cnn("one_model"), cut_layer="block1", branches=2)
    if name == "byot":
        return distillers.BYOT(tiny_cnn("byot_model"), exit_layers=["block1"], deep_layer="block2")
    cls, kwargs = offline()[name]
    student, teacher = tiny_pair()
    return cls(student=student, teacher=teacher, **kwargs)


NAMES = [*offline(), "dml", "one", "byot"]


def main():
    x, _ = tiny_data(8, seed=1)
    predictions = {}
    for name in NAMES:
        distiller = build(name)
        distiller.compile(optimizer="adam", metrics=["accuracy"])
        distiller.save(HERE / f"{name}.keras")
        predictions[name] = np.asarray(distiller.predict(x, verbose=0)).tolist()
        print("saved", name)
    np.save(HERE / "inputs.npy", x)
    (HERE / "predictions.json").write_text(json.dumps(predictions))


if __name__ == "__main__":
    main()
