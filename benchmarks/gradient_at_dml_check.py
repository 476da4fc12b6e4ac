"""Why gradient-based AT and DML did not help on the ``cpu`` protocol: one
run per hypothesis on the embedded sample (issue "effectiveness", point 2).

Run: ``python benchmarks/gradient_at_dml_check.py [--variants NAME ...]``

Each variant trains the MLPerf Tiny ResNet-8 for 10 epochs (batch 64, the
``cpu`` protocol's optimizer, seed 0) on the first 4,000 of the sample's
training images with the shipped ResNet-20 teacher and records its accuracy
on the other 1,000 in ``benchmarks/results/diagnostics/NAME.json`` (skipped
when it exists). All 5,000 are records of the shared CIFAR-10 file's training
part: nothing here looks at the benchmark's validation split. Hypotheses:

- gradient AT: the paper's term also pulls the student's input-gradient norm
  towards the trained teacher's, far smaller than an untrained student's, a
  double-backpropagation penalty (``gat_beta20`` weakens it 10x,
  ``gat_normalized`` compares unit-norm gradients, direction only);
- DML: two peers from independent initializations at a 10-epoch budget
  (``dml_same_init`` starts both from the same weights; ``dml_t4`` softens the
  mimicry at T = 4, the KD row's temperature).
"""

import argparse
import json
import os
import time

import keras

from keras_kd import data, distillers, pretrained
from keras_kd._io import write_json_atomically
from keras_kd.evaluation import top1_accuracy
from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.provenance import provenance

PROTOCOL = PROTOCOLS["cpu"]
EPOCHS, BATCH_SIZE, TRAIN_IMAGES = 10, 64, 4000
OUT = "benchmarks/results/diagnostics"


def _twin(model):
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def _gradient_at(teacher, student, beta, normalize=False):
    return distillers.GradientAttentionTransfer(
        student, teacher, feature_weight=beta, normalize=normalize
    )


# name -> (builder(teacher, student) or None for the student alone, description)
VARIANTS = {
    "student_alone": (None, "the student on the labels"),
    "gat_beta200": (
        lambda t, s: _gradient_at(t, s, 200.0),
        "paper form, beta 200 (keras_kd 0.1's bench row)",
    ),
    "gat_beta20": (
        lambda t, s: _gradient_at(t, s, 20.0),
        "paper form, beta 20 (the bench row now)",
    ),
    "gat_normalized": (
        lambda t, s: _gradient_at(t, s, 2.0, normalize=True),
        "unit-norm gradients, beta 2 (term in [0, 2], CE about 2.3 at init)",
    ),
    "dml": (
        lambda t, s: distillers.DeepMutualLearning([s, keras.models.clone_model(s)]),
        "the bench row: independent initializations, T = 1",
    ),
    "dml_same_init": (
        lambda t, s: distillers.DeepMutualLearning([s, _twin(s)]),
        "both peers start from the same weights",
    ),
    "dml_t4": (
        lambda t, s: distillers.DeepMutualLearning(
            [s, keras.models.clone_model(s)], temperature=4.0
        ),
        "independent initializations, T = 4",
    ),
}


def run_variant(name, teacher, train, val, steps, command):
    path = os.path.join(OUT, f"{name}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    builder, description = VARIANTS[name]
    keras.utils.set_random_seed(0)
    student = PROTOCOL.build_student()
    trainer = student if builder is None else builder(teacher, student)
    optimizer = PROTOCOL.optimizer(PROTOCOL.learning_rate, EPOCHS, steps)
    if builder is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        trainer.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    else:
        trainer.compile(optimizer=optimizer, metrics=["accuracy"])
    start = time.time()
    trainer.fit(train, epochs=EPOCHS, verbose=2)
    deployable = trainer if builder is None else trainer.deployable
    record = {
        "variant": name,
        "description": description,
        "validation_accuracy": top1_accuracy(deployable, val),
        "data": "sample training images: first 4,000 train, last 1,000 evaluate",
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "protocol": PROTOCOL.name,
        "seconds": round(time.time() - start, 1),
        "command": command,
        **provenance(),
    }
    if builder is not None and hasattr(trainer, "peers"):
        record["peer_accuracies"] = [top1_accuracy(p, val) for p in trainer.peers]
    os.makedirs(OUT, exist_ok=True)
    write_json_atomically(record, path)
    print(f"{name}: {record['validation_accuracy']:.2%} ({description})")
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    command = "python benchmarks/gradient_at_dml_check.py"
    images = data.load("sample", "train").cache()
    train_raw, val = images.take(TRAIN_IMAGES), images.skip(TRAIN_IMAGES).batch(250)
    train = data.batch_for_training(train_raw, BATCH_SIZE, seed=0)
    steps = -(-int(train_raw.cardinality()) // BATCH_SIZE)
    teacher = pretrained.load_teacher()
    for name in args.variants:
        run_variant(name, teacher, train, val, steps, command)


if __name__ == "__main__":
    main()
