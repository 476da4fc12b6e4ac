"""`fit` and `evaluate` under `tf.distribute.MultiWorkerMirroredStrategy`.

Keras 3.15's TensorFlow trainer fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585, tensorflow/tensorflow#72388) at two points, both in
how it reduces values across workers, none in the training step itself:

1. before the first step it averages the first batch across workers,
   eagerly, only to learn the batch's shapes; the eager collective rejects
   the per-replica value ("Attempt to convert a value (PerReplica ...)");
2. after every step it averages each scalar log across workers along axis 0,
   which a scalar does not have.

`MultiWorkerFitMixin` takes one worker's own batch for (1), whose shapes are
those of every worker's, and hands Keras each log as a one-element vector for
(2), so that axis 0 is the axis across workers and the result is the same
scalar mean. Outside multi-worker mode nothing changes. The gradient
reduction (the loss scaled by 1/replicas, gradients summed by the strategy)
is the standard one; this module only mends the bookkeeping around it.
"""

import tensorflow as tf


def in_multi_worker_mode(strategy):
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


class MultiWorkerFitMixin:
    """Mixed into `TermTrainer` (a `keras.Model`) ahead of it."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and in_multi_worker_mode(strategy):
            local = strategy.experimental_local_results
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(lambda v: local(v)[0], next(it))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _make_function(self, step_function):
        if in_multi_worker_mode(self.distribute_strategy):
            step = step_function

            def step_function(data):
                return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), step(data))

        return super()._make_function(step_function)
