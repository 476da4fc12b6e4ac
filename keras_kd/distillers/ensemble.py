"""Several teachers as one: the weighted average of their soft targets."""

import keras
import numpy as np

from keras_kd._checks import non_negative_float, temperature_value
from keras_kd.distillers._model_checks import check_logits_model
from keras_kd.features import require_functional


def ensemble_teacher(teachers, weights=None, temperature=1.0, name="ensemble_teacher"):
    """A plain Keras model whose softened output averages several teachers'.

    It returns ``z_e = T * log(sum_k w_k * softmax(z_k / T))``, so that
    ``softmax(z_e / T)`` is exactly the weighted average of the teachers'
    soft targets at temperature T: KD from it (`KD(..., temperature=T)`) is KD
    from the ensemble. With T = 1 and equal weights it is the usual
    probability-averaging ensemble (BAN-E). It is built from Keras layers and
    `keras.ops` only, so it saves and loads in safe mode and can be cached
    (`keras_kd.cache`). The teachers are not changed.

    Args:
        teachers: two or more models taking the same input and returning
            logits of the same shape.
        weights: one non-negative weight per teacher (normalized to sum to 1);
            default equal.
        temperature: T at which the soft targets are averaged; use the
            distiller's temperature.
        name: the model's name.

    Returns:
        A functional `keras.Model` from the teachers' input to ``z_e``.

    Example:
        ```python
        teacher = ensemble_teacher([resnet20_a, resnet20_b], temperature=4.0)
        distiller = KD(student, teacher, temperature=4.0)
        distiller.compile(optimizer="adam", metrics=["accuracy"])
        distiller.fit(train, epochs=10)
        ```

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        2015 (distilling an ensemble); You et al., "Learning from Multiple
        Teacher Networks", KDD 2017.
    """
    if not isinstance(teachers, list | tuple) or not teachers:
        raise ValueError(
            f"`teachers` must be a non-empty list of Keras models. Received: teachers={teachers!r}"
        )
    for i, teacher in enumerate(teachers):
        require_functional(teacher, f"teachers[{i}]")
        check_logits_model(teacher, f"teachers[{i}]")
    shapes = {(tuple(t.inputs[0].shape[1:]), tuple(t.outputs[0].shape[1:])) for t in teachers}
    if len(shapes) != 1 or any(len(t.inputs) != 1 for t in teachers):
        raise ValueError(
            "`teachers` must each take one input of the same shape and return logits of the "
            f"same shape. Received: (input, output) shapes {sorted(shapes)}"
        )
    weights = [1.0] * len(teachers) if weights is None else list(weights)
    weights = [non_negative_float("weights", w) for w in weights]
    if len(weights) != len(teachers) or sum(weights) <= 0:
        raise ValueError(
            "`weights` must hold one non-negative weight per teacher, not all zero. "
            f"Received: weights={weights} for {len(teachers)} teachers"
        )
    temperature = temperature_value("temperature", temperature)
    inputs = keras.Input(tuple(teachers[0].inputs[0].shape[1:]))
    averaged = None
    for k, (teacher, weight) in enumerate(zip(teachers, weights, strict=True)):
        # Teachers may share a name; each is nested under its own.
        member = keras.Model(teacher.inputs[0], teacher.outputs[0], name=f"teacher{k}")
        soft = keras.layers.Softmax()(keras.ops.divide(member(inputs), temperature))
        part = keras.ops.multiply(soft, weight / sum(weights))
        averaged = part if averaged is None else keras.ops.add(averaged, part)
    tiny = float(np.finfo("float32").tiny)
    logits = keras.ops.multiply(keras.ops.log(keras.ops.maximum(averaged, tiny)), temperature)
    return keras.Model(inputs, logits, name=name)
