"""Timers shared by the speed benchmarks: one epoch of `fit`, one epoch of inference.

Both time only the batches: `fit`'s setup and teardown (iterator, callbacks,
a distiller's data checks) fall outside the `EpochTimer`, and inference runs
over batches already in memory.
"""

import time

import keras
import tensorflow as tf


class EpochTimer(keras.callbacks.Callback):
    """Seconds of the last epoch, without `fit`'s setup and teardown."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def fit_epoch(model, dataset, steps):
    """A callable that fits ``model`` for one epoch: ``(seconds, steps)``."""

    def epoch():
        timer = EpochTimer()
        model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds, steps

    return epoch


def inference_epoch(model, batches, jit=False):
    """A callable that runs ``model`` (inference mode) over ``batches`` of
    inputs and fetches every output: ``(seconds, batches)``."""
    step = tf.function(lambda x: model(x, training=False), jit_compile=jit)

    def epoch():
        start = time.perf_counter()
        for x in batches:
            tf.nest.map_structure(lambda v: v.numpy(), step(x))
        return time.perf_counter() - start, len(batches)

    return epoch
