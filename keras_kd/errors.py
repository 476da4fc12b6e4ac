"""Typed exceptions raised where keras_kd finds a fault.

A distiller's `fit` checks every step inside the compiled step (NaN/inf
terms and gradients, labels, probability outputs, a stale teacher cache).
A step that fails a check changes no weight, BatchNorm statistic or
optimizer slot; the fit then stops with one of these errors, which names the
term, variable or model and the epoch and step.
"""


class NonFiniteLossError(FloatingPointError):
    """A loss term or a gradient was NaN or infinite; the step was not applied.

    The message names the term (e.g. ``loss term 'kd' (kd_loss)``) or the
    variable whose gradient was not finite, and the epoch and step.

    Example:
        ```python
        try:
            distiller.fit(train, epochs=10)
        except keras_kd.errors.NonFiniteLossError as err:
            print(err)  # lower the learning rate or the named term's weight
        ```
    """


class LabelError(ValueError):
    """Labels that the model cannot be trained on.

    Raised during `fit` for a batch whose labels are none of what
    `keras_kd.labels` accepts (class indices in range, probability rows, 0/1
    for a single logit), or are NaN; the step was not applied.

    Example:
        ```python
        try:
            distiller.fit(train, epochs=10)  # a tf.data pipeline of (images, labels)
        except keras_kd.errors.LabelError as err:
            print(err)  # the step, the labels received and what the model accepts
        ```
    """


class ProbabilityOutputError(ValueError):
    """A model returned probabilities where logits are needed.

    Raised when every output row of a batch is non-negative and sums to 1 (a
    softmax in the model, however it is written). Temperature scaling and the
    cross-entropy need logits: build the model with
    ``classifier_activation=None`` (``keras.applications``) or without its
    final softmax.

    Example:
        ```python
        teacher = keras.applications.MobileNetV2(weights=None, classifier_activation=None)
        ```
    """


class TeacherCacheMismatchError(ValueError):
    """A batch's inputs differ from those its cached teacher outputs came from.

    Raised by a distiller trained on `keras_kd.cache.cache_teacher_outputs`'s
    dataset when a random augmentation was applied before or after the cache,
    or the dataset changed: the cached teacher outputs would be wrong.

    Example:
        ```python
        cache = cache_teacher_outputs(distiller, data.load("sample", "train"))
        # no random augmentation on cache.dataset: shuffle and batch only
        distiller.fit(cache.dataset.shuffle(5000).batch(64), epochs=10)
        ```
    """


__all__ = [
    "LabelError",
    "NonFiniteLossError",
    "ProbabilityOutputError",
    "TeacherCacheMismatchError",
]
