"""WTTM on the CIFAR-10 sample under the benchmark's `cpu` protocol settings.

Run: ``python benchmarks/wttm_weight_check.py cached 4`` (the bench row's
setting: the teacher's logits cached, the authors' weight 4), ``uncached 4``
(the teacher run at every step) and ``cached 1`` (weight 1).

Batch 128, SGD with Nesterov momentum from lr 0.1 with cosine decay over 10
epochs, no augmentation, seed 0, the shipped ResNet-20 teacher and the MLPerf
Tiny ResNet-8 student, as `keras-kd bench --rows wttm` on the sample. Prints
the validation accuracy on the sample's 1,000 validation images.
"""

import sys

import keras

from keras_kd import data, distillers, models, recipes
from keras_kd.cache import cache_teacher_outputs
from keras_kd.evaluation import top1_accuracy
from keras_kd.pretrained import load_teacher

BATCH, EPOCHS, LEARNING_RATE, SAMPLES = 128, 10, 0.1, 5000


def main(mode, weight):
    teacher = load_teacher()
    train_raw = data.load("sample", "train")
    validation = data.load("sample", "validation").batch(250)
    keras.utils.set_random_seed(0)
    student = models.mlperf_tiny_resnet8(num_classes=10)
    wttm = distillers.WTTM(student, teacher, feature_weight=weight)
    if mode == "cached":
        train_raw = cache_teacher_outputs(wttm, train_raw, verbose=0).dataset
    train = data.batch_for_training(train_raw, BATCH, seed=0)
    steps = -(-SAMPLES // BATCH) * EPOCHS
    wttm.compile(optimizer=recipes.cifar_sgd(LEARNING_RATE, steps), metrics=["accuracy"])
    wttm.fit(train, epochs=EPOCHS, verbose=2)
    print(f"{mode}, weight {weight}: {top1_accuracy(wttm.student, validation):.2%}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
