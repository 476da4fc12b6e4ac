"""In-graph checks of a step, each ``(condition, fault, detail)`` for the step guard.

``detail`` is two floats the fault's message reads (a count, a range).
"""

import tensorflow as tf

from keras_kd import labels
from keras_kd.distillers import _faults

NO_DETAIL = (0.0, 0.0)


def are_probabilities(outputs):
    """True when every row (the last axis) is non-negative and sums to 1 (for
    C > 1 outputs). Outputs with positions are judged on the first sample's
    positions, thousands of rows for a segmentation map: a softmax head makes
    a distribution of every one, and checking the whole batch costs a
    millisecond per step (`benchmarks/kd_term_cost.py`)."""
    if outputs.shape[-1] == 1:
        return tf.constant(False)
    if outputs.shape.rank is not None and outputs.shape.rank > 2:
        outputs = outputs[:1]
    outputs = tf.cast(outputs, tf.float32)
    sums = tf.reduce_sum(outputs, axis=-1)
    return (tf.reduce_min(outputs) >= 0.0) & tf.reduce_all(
        tf.abs(sums - 1.0) <= labels.SUM_TOLERANCE
    )


def label_check(y, output_shape):
    """Labels of the wrong kind or range, NaN or inf, for logits of ``output_shape``."""
    fault, low, high = labels.label_fault(y, output_shape[-1], len(output_shape))
    return fault, _faults.BAD_LABELS, tf.stack([low, high])


def _quick_sum(tensors):
    """The sum of every element: NaN or infinite when one is (or when the sum
    overflows), in one pass over each tensor."""
    return tf.add_n([tf.reduce_sum(t) for t in tensors])


def _non_finite(values):
    floats = [tf.cast(v, tf.float32) for v in tf.nest.flatten(values) if v.dtype.is_floating]
    if not floats:
        return tf.constant(False), NO_DETAIL

    def count():  # only when the quick sum is not finite
        return tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(v), tf.float32)) for v in floats])

    bad = tf.cond(tf.math.is_finite(_quick_sum(floats)), lambda: 0.0, count)
    return bad > 0, tf.stack([bad, 0.0])


def _negative(values):
    floats = [tf.cast(v, tf.float32) for v in tf.nest.flatten(values)]
    count = tf.add_n([tf.reduce_sum(tf.cast(v < 0.0, tf.float32)) for v in floats])
    smallest = tf.reduce_min(tf.concat([tf.reshape(v, [-1]) for v in floats] + [[0.0]], 0))
    return count > 0, tf.stack([count, smallest])


def data_checks(x, sample_weight):
    """NaN or inf in the inputs or the sample weights, and negative sample weights."""
    fault, detail = _non_finite(x)
    checks = [(fault, _faults.BAD_INPUTS, detail)]
    if sample_weight is not None:
        fault, detail = _non_finite(sample_weight)
        checks.append((fault, _faults.BAD_SAMPLE_WEIGHTS, detail))
        fault, detail = _negative(sample_weight)
        checks.append((fault, _faults.NEGATIVE_SAMPLE_WEIGHTS, detail))
    return checks


def view_check(view):
    """NaN or inf in a training view drawn from the batch."""
    fault, detail = _non_finite(view)
    return fault, _faults.BAD_VIEW, detail


def term_checks(terms, faults):
    """A NaN or infinite raw term; ``faults`` maps each term's name to its fault."""
    return [(~tf.reduce_all(tf.math.is_finite(v)), faults[n], NO_DETAIL) for n, v in terms.items()]


def gradient_check(grads):
    """The first variable whose gradient is NaN or infinite (its index in the detail).

    One pass sums every gradient; each is checked only when that sum is not finite."""
    present = [(i, g) for i, g in enumerate(grads) if g is not None]
    if not present:
        return tf.constant(False), _faults.BAD_GRADIENT, NO_DETAIL
    floats = [  # an embedding's sparse gradient is checked on its values
        tf.cast(g.values if isinstance(g, tf.IndexedSlices) else g, tf.float32) for _, g in present
    ]

    def first_bad():
        flags = tf.stack([~tf.reduce_all(tf.math.is_finite(g)) for g in floats])
        first = tf.argmax(tf.cast(flags, tf.int32), output_type=tf.int32)
        index = tf.gather([i for i, _ in present], first)
        return tf.where(tf.reduce_any(flags), index, -1)

    index = tf.cond(tf.math.is_finite(_quick_sum(floats)), lambda: -1, first_bad)
    return index >= 0, _faults.BAD_GRADIENT, tf.stack([tf.cast(index, tf.float32), 0.0])


def checked_input(x, expected):
    """``(x, check)``: a single-tensor batch given the model's static input
    shape, and the check of a batch whose images have another size (it is
    then replaced by zeros of the right shape, so the step runs to its guard
    and is skipped)."""
    expected = list(expected)
    static = x.shape[1:]
    if static.is_fully_defined() and None not in expected:
        if list(static) != expected:
            raise ValueError(
                f"`x` must hold inputs of shape (batch, {', '.join(map(str, expected))}) "
                f"for this model. Received: a batch of shape {tuple(x.shape)}; resize the "
                "images in the pipeline (e.g. `data.load(..., image_size=...)`)"
            )
        return x, (tf.constant(False), _faults.INPUT_SHAPE, NO_DETAIL)
    actual = tf.shape(x)[1:]
    known = [i for i, e in enumerate(expected) if e is not None]
    ok = tf.reduce_all(tf.equal(tf.gather(actual, known), [expected[i] for i in known]))
    target = [-1, *(e if e is not None else -1 for e in expected)]
    zeros = [tf.shape(x)[0], *(e if e is not None else 1 for e in expected)]
    fixed = tf.cond(ok, lambda: tf.reshape(x, target), lambda: tf.zeros(zeros, dtype=x.dtype))
    size = tf.cast(actual[:2], tf.float32) if len(expected) >= 2 else tf.zeros([2])
    return tf.ensure_shape(fixed, [None, *expected]), (~ok, _faults.INPUT_SHAPE, size)
