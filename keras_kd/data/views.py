"""Random views of a batch for distillation: crop, flip and mixup (function matching).

Each draw is stateless (`tf.random.stateless_*` on a given seed), so it runs
the same in graph mode and under XLA.
"""

import keras
import tensorflow as tf

from keras_kd.labels import SPARSE, label_kind

# Bisection steps of the Beta inverse CDF: resolution 0.5 / 2^40 of the partner's weight.
_BISECTION_STEPS = 40


def partner_weight(alpha, seed, shape=()):
    """``min(lam, 1 - lam)`` for ``lam ~ Beta(alpha, alpha)``, in [0, 0.5] (``seed``: 2 ints).

    Drawn by inverting the Beta CDF (`tf.math.betainc`) by bisection, since
    the gamma sampler behind `keras.random.beta` does not compile under XLA.
    On [0, 0.5] the folded weight's CDF is twice the Beta CDF.
    """
    target = tf.random.stateless_uniform(shape, seed, 0.0, 0.5)
    a = tf.constant(alpha, tf.float32)

    def halve(_, bounds):
        low, high = bounds
        middle = (low + high) / 2.0
        below = tf.math.betainc(a, a, middle) < target
        return tf.where(below, middle, low), tf.where(below, high, middle)

    # A loop, not unrolled: XLA compiles betainc's series once instead of 40 times.
    low, high = keras.ops.fori_loop(
        0, _BISECTION_STEPS, halve, (tf.zeros(shape), tf.fill(shape, 0.5))
    )
    return (low + high) / 2.0


def crop_flip(images, padding, flip, next_seed):
    """Per image: zero-pad by ``padding``, take a random window of the original
    size and mirror it left-right with probability 1/2 (one gather per axis).
    ``next_seed()`` gives a new stateless seed for each draw."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    rows, cols = tf.range(height)[None], tf.range(width)[None]
    if padding:
        images = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
        positions = 2 * padding + 1
        rows = rows + tf.random.stateless_uniform((batch, 1), next_seed(), 0, positions, tf.int32)
        offsets = tf.random.stateless_uniform((batch, 1), next_seed(), 0, positions, tf.int32)
    else:
        offsets = tf.zeros((batch, 1), tf.int32)
    if flip:
        mirrored = tf.random.stateless_uniform((batch, 1), next_seed()) < 0.5
        cols = tf.where(mirrored, width - 1 - cols, cols)
    images = tf.gather(images, rows, axis=1, batch_dims=1)
    return tf.gather(images, cols + offsets, axis=2, batch_dims=1)


def mix(values, partner, w):
    """``(1 - w) * values + w * values[partner]``, float32 unless ``values`` are floats."""
    mixed = tf.cast(values, tf.float32)
    mixed = mixed + w * (tf.gather(mixed, partner) - mixed)
    return tf.cast(mixed, values.dtype) if values.dtype.is_floating else mixed


def mixed_labels(y, partner, weight, num_outputs):
    """Labels mixed like the images; class indices become probability rows."""
    if label_kind(tuple(y.shape), num_outputs) == SPARSE:
        y = tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), num_outputs)
    return mix(y, partner, weight)
