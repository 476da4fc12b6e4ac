"""Measures the gradient-attention term against the cross-entropy at initialization.

Run: ``python benchmarks/gradient_at_scale.py``

The benchmark's gradient-AT weight (``keras_kd_cli.bench.rows.GRADIENT_AT_WEIGHT``)
is set so that ``beta/2 * ||J_S - J_T||`` is comparable to the cross-entropy
at initialization (on raw 0..255 inputs input gradients are small); it is not
tuned on validation accuracy.
"""

import keras
import tensorflow as tf

from keras_kd import data, distillers, models
from keras_kd_cli.demo import PRETRAINED_TEACHER


def main():
    teacher = keras.saving.load_model(PRETRAINED_TEACHER)
    keras.utils.set_random_seed(0)
    distiller = distillers.GradientAttentionTransfer(
        student=models.mlperf_tiny_resnet8(), teacher=teacher, feature_weight=1.0
    )
    x, y = next(iter(data.load("sample").batch(256)))
    x = tf.ensure_shape(x, [None, 32, 32, 3])
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    terms = distiller.train_on_batch(x, y, return_dict=True)  # learning rate 0: no update
    at, ce = float(terms["gradient_at_loss"]), float(terms["task_loss"])
    print(f"gradient-AT term at beta=1 (with the 1/2): {at:.5f}")
    print(f"cross-entropy at initialization:          {ce:.3f}")
    print(f"beta making them equal:                   {ce / at:.0f}")


if __name__ == "__main__":
    main()
