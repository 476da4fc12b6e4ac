"""Wrong uses, each refused before training with an error that names the
argument, the received value and what is accepted."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_kd_cli as cli
from keras_kd import data, distillers, losses, models
from keras_kd.export import to_tflite
from tests.helpers import IMAGE_SHAPE, tiny_cnn, tiny_data


def pair():
    return tiny_cnn("student", 4), tiny_cnn("teacher", 8)


def kd(**kwargs):
    student, teacher = pair()
    return distillers.KD(student=student, teacher=teacher, **kwargs)


def fit_kd(x, y=None):
    distiller = kd()
    distiller.compile(optimizer="sgd")
    distiller.fit(x, y, epochs=1, verbose=0)


def shared_layer_model():
    inputs = keras.Input(IMAGE_SHAPE)
    conv = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    x = conv(keras.layers.Conv2D(4, 3, padding="same", name="first")(inputs))
    x = keras.layers.Conv2D(4, 3, padding="same", name="shared_again")(x)
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(conv(x)))
    return keras.Model(inputs, out)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(keras.ops.mean(x, axis=(1, 2)))


def subclassed():
    model = Subclassed()
    model(np.zeros((1, *IMAGE_SHAPE), "float32"))
    return model


X, Y = tiny_data(8)
S, T = tiny_cnn("s", 4), tiny_cnn("t", 8)
LAYERS = {"student_layers": ["block1"], "teacher_layers": ["block1"]}

CASES = {
    "teacher input shape differs": (
        lambda: distillers.KD(student=S, teacher=models.resnet8(num_classes=3)),
        r"same shape.*student input \(16, 16, 3\), teacher input \(32, 32, 3\)",
    ),
    "class counts differ": (
        lambda: distillers.KD(student=S, teacher=tiny_cnn("t5", num_classes=5)),
        r"same number of classes.*\(3,\).*\(5,\)",
    ),
    "negative task_weight": (lambda: kd(task_weight=-1), "Received: task_weight=-1"),
    "negative kd_weight": (lambda: kd(kd_weight=-0.5), "Received: kd_weight=-0.5"),
    "zero temperature": (lambda: kd(temperature=0), "Received: temperature=0"),
    "negative temperature": (lambda: kd(temperature=-4.0), "Received: temperature=-4.0"),
    "infinite weight": (lambda: kd(kd_weight=float("inf")), "Received: kd_weight=inf"),
    "teacher not built": (
        lambda: distillers.KD(student=S, teacher=keras.Sequential([keras.layers.Dense(3)])),
        "built functional or Sequential.*Received: teacher=",
    ),
    "subclassed student": (
        lambda: distillers.KD(student=subclassed(), teacher=T),
        "subclassed models have no graph to tap",
    ),
    "softmax teacher": (
        lambda: distillers.KD(
            student=S, teacher=keras.Model(T.inputs, keras.layers.Softmax(name="sm")(T.output))
        ),
        "`teacher` must output logits.*'sm'",
    ),
    "unknown layer name": (
        lambda: distillers.FitNet(
            student=S, teacher=T, student_layers=["nope"], teacher_layers=["block1"]
        ),
        "does not have.*Received: student_layers entry 'nope'",
    ),
    "shared layer tap": (
        lambda: distillers.NST(
            student=shared_layer_model(),
            teacher=T,
            student_layers=["shared"],
            teacher_layers=["block1"],
        ),
        "called 2 times.*Received: student_layers entry 'shared'",
    ),
    "unequal layer list lengths": (
        lambda: distillers.NST(
            student=S, teacher=T, student_layers=["block1"], teacher_layers=["block1", "block2"]
        ),
        "same length.*student_layers=\\['block1'\\], teacher_layers=\\['block1', 'block2'\\]",
    ),
    "layer names as a string": (
        lambda: distillers.NST(
            student=S, teacher=T, student_layers="block1", teacher_layers=["block1"]
        ),
        "list of layer names.*Received: student_layers='block1'",
    ),
    "FSP unequal channels": (
        lambda: distillers.FSP(
            student=S,
            teacher=T,
            student_layers=["block1", "block2"],
            teacher_layers=["block1", "block2"],
        ),
        "equal channel counts.*teacher layer 'block1' shape \\(None, 16, 16, 8\\)",
    ),
    "attention sizes that do not divide": (
        lambda: losses.attention_transfer_loss(np.zeros((1, 6, 6, 2)), np.zeros((1, 4, 4, 2))),
        r"must divide.*\(1, 6, 6, 2\).*\(1, 4, 4, 2\)",
    ),
    "unknown factor form": (
        lambda: distillers.FactorTransfer(
            student=S,
            teacher=T,
            form="saliency",
            student_layers=["block2"],
            teacher_layers=["block2"],
        ),
        "Received: form='saliency'",
    ),
    "unknown stage": (
        lambda: kd().set_stage("warmup"),
        "stage.*Received: stage='warmup'",
    ),
    "RKD with two pairs": (
        lambda: distillers.RKD(
            student=S,
            teacher=T,
            student_layers=["pool", "block2"],
            teacher_layers=["pool", "block2"],
        ),
        "exactly 1.*Received: student_layers=",
    ),
    "DML with one peer": (
        lambda: distillers.DeepMutualLearning(peers=[S]),
        "at least 2.*Received: peers=",
    ),
    "ONE with one branch": (
        lambda: distillers.ONE(tiny_cnn("n"), cut_layer="block1", branches=1),
        "Received: branches=1",
    ),
    "BYOT without exits": (
        lambda: distillers.BYOT(tiny_cnn("n"), exit_layers=[], deep_layer="block2"),
        "Received: exit_layers=\\[\\]",
    ),
    "BYOT negative kd_weight": (
        lambda: distillers.BYOT(
            tiny_cnn("n"), exit_layers=["block1"], deep_layer="block2", kd_weight=-1.5
        ),
        "Received: kd_weight=-1.5",
    ),
    "labels out of range": (
        lambda: fit_kd(X, Y + 3),
        r"`y` must be class indices in \[0, 2\].*Received: y from [3-5] to [3-5]",
    ),
    "one-hot with the wrong class count": (
        lambda: fit_kd(X, np.eye(5, dtype="float32")[Y]),
        "rows of 3 class probabilities.*Received: y of shape \\(8, 5\\)",
    ),
    "non-integer labels": (
        lambda: fit_kd(X, Y + 0.5),
        r"`y` must be class indices.*Received: y from [0-2]?\.5 to 2\.5, e\.g\. [0-2]\.5",
    ),
    "labels missing": (lambda: fit_kd(X), "Received: y=None"),
    "x and y lengths differ": (lambda: fit_kd(X, Y[:5]), "Received: 8 inputs, 5 labels"),
    "empty dataset": (
        lambda: fit_kd(tf.data.Dataset.from_tensor_slices((X, Y)).take(0).batch(4)),
        "empty dataset",
    ),
    "dataset of the wrong image size": (
        lambda: fit_kd(
            tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), "float32"), Y[:4])).batch(2)
        ),
        r"shape \(batch, 16, 16, 3\).*Received: x with batches of shape \(None, 8, 8, 3\)",
    ),
    "dataset labels out of range": (
        lambda: fit_kd(tf.data.Dataset.from_tensor_slices((X, Y + 7)).batch(4)),
        r"`y` must be class indices in \[0, 2\].*Received: at training batch 0.*labels from [7-9]"
        r" to [7-9].*Nothing was updated",
    ),
    "int8 export without representative data": (
        lambda: to_tflite(S, "/tmp/never.tflite", quantization="int8"),
        "Received: representative_data=None",
    ),
    "unknown quantization": (
        lambda: to_tflite(S, "/tmp/never.tflite", quantization="int4"),
        "Received: quantization='int4'",
    ),
    "export of a non-model": (
        lambda: to_tflite("model.keras", "/tmp/never.tflite"),
        "Received: model='model.keras'",
    ),
    "missing data path": (lambda: data.load("/no/such/cifar.tfrecord.gz"), "no such path"),
    "unknown split": (lambda: data.load("sample", "test"), "Received: split='test'"),
    "batch size 0": (
        lambda: data.batch_for_training(data.load("sample"), 0),
        "Received: batch_size=0",
    ),
    "ResNet depth not 6n+2": (lambda: models.cifar_resnet(9), "Received: depth=9"),
    "KD loss temperature as text": (
        lambda: losses.kd_loss(np.zeros((1, 2)), np.zeros((1, 2)), "4"),
        "Received: temperature='4'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_wrong_use_gets_a_clear_error(case):
    make, match = CASES[case]
    with pytest.raises(ValueError, match=match):
        make()


def test_corrupt_data_file_is_refused(tmp_path):
    path = tmp_path / "corrupt.tfrecord.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="GZIP TFRecord.*Received: path="):
        data.load(str(path))


CLI_CASES = {
    "demo epochs 0": (["demo", "--epochs", "0"], "must be an integer >= 1 (received '0')"),
    "export missing model file": (
        ["export", "/no/model.keras", "/tmp/x.tflite"],
        "cannot load MODEL",
    ),
    "export int8 without data": (
        ["export", "m.keras", "o.tflite", "--quantize", "int8"],
        "needs --data",
    ),
    "export unknown quantization": (
        ["export", "m.keras", "o.tflite", "--quantize", "int2"],
        "invalid choice: 'int2'",
    ),
    "bench unknown row": (
        ["bench", "--rows", "kd,magic", "--out", "/tmp/kd-never"],
        "unknown rows ['magic']",
    ),
    "bench epochs negative": (
        ["bench", "--epochs", "-1"],
        "must be an integer >= 1 (received '-1')",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_wrong_cli_flags_exit_with_a_usage_error(case, capsys):
    argv, match = CLI_CASES[case]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err


def test_the_table_covers_at_least_thirty_wrong_uses():
    assert len(CASES) + 1 + len(CLI_CASES) >= 30


def _distiller_weighted_zero(kind):
    student, teacher = pair()
    if kind == "kd":
        return distillers.KD(student, teacher, task_weight=0.0, kd_weight=0.0)
    if kind == "wttm":
        return distillers.WTTM(student, teacher, task_weight=0.0, feature_weight=0.0)
    if kind == "terms":
        term = distillers.AttentionTerm(0.0, ["block2"], ["block2"])
        return distillers.Distiller(student, teacher, task_weight=0.0, terms=[term])
    return distillers.DeepMutualLearning([student, tiny_cnn("peer", 4)], task_weight=0, kd_weight=0)


@pytest.mark.parametrize("kind", ["kd", "wttm", "terms", "dml"])
def test_every_weight_zero_is_refused_at_construction(kind):
    with pytest.raises(
        ValueError, match=r"At least one weight must be > 0.*Received: .*task_weight=0"
    ):
        _distiller_weighted_zero(kind)


@pytest.mark.parametrize("method", [distillers.WTTM, distillers.MLKD, distillers.DIST])
def test_logit_standardization_that_no_term_reads_is_refused(method):
    with pytest.raises(ValueError, match=r"`logit_standardization=True`.*kd_weight=0.0"):
        method(*pair(), logit_standardization=True)
    distiller = method(*pair(), logit_standardization=True, kd_weight=0.5)
    assert distiller.all_terms[1].logit_standardization and distiller.all_terms[1].weight == 0.5
    assert distillers.DKD(*pair(), logit_standardization=True).logit_standardization


@pytest.mark.parametrize("labels", ["out of range", "wrong width"])
def test_validation_labels_in_memory_are_refused_before_the_first_epoch(labels):
    distiller = kd()
    distiller.compile(optimizer="sgd")
    x, y = tiny_data(16)
    bad = np.full(8, 10) if labels == "out of range" else np.eye(5)[y[:8] % 5]
    before = [v.numpy().copy() for v in distiller.student.weights]
    with pytest.raises(ValueError, match=r"`validation_data` is refused: `y` must be"):
        distiller.fit(x, y, epochs=1, batch_size=8, validation_data=(x[:8], bad), verbose=0)
    assert all(
        np.array_equal(a, v.numpy()) for a, v in zip(before, distiller.student.weights, strict=True)
    )
    assert int(distiller.optimizer.iterations.numpy()) == 0
