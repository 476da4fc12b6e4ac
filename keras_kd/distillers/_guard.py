"""The step guard: a faulty step changes nothing, and `fit` says why.

Each step's checks are ``(condition, fault, detail)`` with a `Fault` record
of `keras_kd.distillers._faults`. The update is applied only when no check
holds and no earlier step of the run failed: otherwise no trainable weight,
optimizer slot or iteration count changes, and the state the forward pass
wrote (BatchNorm statistics) is put back. The guard keeps the first fault's
code (its index in the guard's table), two numbers and the batch; then
`keras_kd.distillers._faults.GuardCallback` raises the record's exception.
The same path runs in graph mode and under XLA, where in-graph assertions
are dropped.
"""

import tensorflow as tf

from keras_kd.distillers import _faults

OK = 0


class StepGuard:
    """The table of faults a trainer declares, and the run's first fault (not saved)."""

    def __init__(self):
        self.table = list(_faults.STATIC)
        once = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.code = tf.Variable(OK, dtype=tf.int32, trainable=False, aggregation=once)
        self.detail = tf.Variable(tf.zeros([2]), trainable=False, aggregation=once)
        self.batch = tf.Variable(0, dtype=tf.int32, trainable=False, aggregation=once)
        self.fault_batch = tf.Variable(0, dtype=tf.int32, trainable=False, aggregation=once)
        self.in_fit = False

    def declare(self, fault):
        """Adds ``fault`` to the table (once) and returns it."""
        if fault not in self.table:
            self.table.append(fault)
        return fault

    def reset(self, batch=True):
        self.code.assign(OK)
        self.detail.assign(tf.zeros([2]))
        if batch:
            self.batch.assign(0)

    @staticmethod
    def snapshot(models):
        """The non-trainable float state (BatchNorm statistics) of ``models``."""
        variables, seen = [], set()
        for model in models:
            for v in model.non_trainable_variables:
                if id(v) not in seen and "float" in str(v.dtype):
                    seen.add(id(v))
                    variables.append(v)
        return [(v, tf.identity(v.value)) for v in variables]

    def first_fault(self, checks):
        """``(code, detail)`` of the first true check, else ``(OK, zeros)``."""
        code, detail = tf.constant(OK, tf.int32), tf.zeros([2])
        for condition, fault, values in reversed(checks):
            code = tf.where(condition, self.table.index(fault) + 1, code)
            detail = tf.where(condition, tf.cast(values, tf.float32), detail)
        return code, detail

    def apply_if_clean(self, checks, optimizer=None, grads_and_vars=(), snapshot=()):
        """Applies ``grads_and_vars`` only when no check holds on any replica
        and the run is clean; otherwise restores ``snapshot`` and records the
        first fault. Under a strategy that merges updates across replicas
        (Mirrored, MultiWorkerMirrored), the decision is all-reduced and the
        update runs in cross-replica context, as Keras's `LossScaleOptimizer` does."""
        code, detail = self.first_fault(checks)
        context = tf.distribute.get_replica_context()
        distributed = context is not None and tf.distribute.get_strategy().num_replicas_in_sync > 1
        if distributed:  # every replica takes the fault of any (the largest code)
            codes = context.all_gather(tf.reshape(code, [1]), axis=0)
            details = context.all_gather(tf.reshape(detail, [1, 2]), axis=0)
            index = tf.argmax(codes, output_type=tf.int32)
            code, detail = codes[index], details[index]
        clean = tf.equal(self.code, OK) & tf.equal(code, OK)
        grads, variables = [g for g, _ in grads_and_vars], [v for _, v in grads_and_vars]
        if optimizer is not None and grads:
            if distributed and not tf.__internal__.distribute.strategy_supports_no_merge_call():
                _apply_cross_replica(context, optimizer, clean, grads, variables)
            else:
                tf.cond(clean, lambda: _apply(optimizer, grads, variables), lambda: False)
        for variable, before in snapshot:
            variable.assign(tf.where(clean, variable.value, before))
        first = tf.equal(self.code, OK) & tf.not_equal(code, OK)
        self.detail.assign(tf.where(first, detail, self.detail))
        self.fault_batch.assign(tf.where(first, self.batch, self.fault_batch))
        self.code.assign(tf.where(first, code, self.code))
        self.batch.assign_add(1)


def _apply(optimizer, grads, variables):
    optimizer.apply_gradients(zip(grads, variables, strict=True))
    return tf.constant(True)


def _apply_cross_replica(context, optimizer, clean, grads, variables):
    def cross_replica(distribution, clean, grads):
        def apply():
            distribution.extended.call_for_each_replica(
                lambda g: optimizer.apply_gradients(zip(g, variables, strict=True)),
                args=(grads,),
            )
            return tf.constant(True)

        first = distribution.experimental_local_results(clean)[0]
        tf.cond(first, apply, lambda: tf.constant(False))

    context.merge_call(cross_replica, args=(clean, grads))
