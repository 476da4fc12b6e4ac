"""Checks of a (student, teacher) pair before a `Distiller` is built."""

import tensorflow as tf

from keras_kd.distillers._model_checks import check_distinct, check_logits_model, check_trainable
from keras_kd.features import logits_tensor, require_functional


def check_pair(student, teacher, teacher_input, logits_output=None):
    """Raises a ValueError unless the teacher can teach the student: both
    functional logit models, distinct, logits of the same shape (the
    ``logits_output`` of a model with several outputs), and inputs of the same
    shape (or a `teacher_input` that maps the student's to the teacher's)."""
    require_functional(student, "student")
    require_functional(teacher, "teacher")
    check_logits_model(student, "student", logits_output, takes_logits_output=True)
    check_logits_model(teacher, "teacher", logits_output, takes_logits_output=True)
    check_distinct([student, teacher], ["student", "teacher"])
    check_trainable(student, "student")
    s_out = tuple(logits_tensor(student, logits_output, "student").shape[1:])
    t_out = tuple(logits_tensor(teacher, logits_output, "teacher").shape[1:])
    if s_out != t_out:
        where = f" (output {logits_output!r})" if logits_output is not None else ""
        raise ValueError(
            f"`student` and `teacher` must output logits of the same shape (the same number of "
            f"classes, and of positions when there are some){where}. "
            f"Received: student logits {s_out}, teacher logits {t_out}"
        )
    if teacher_input is not None:
        _check_teacher_input(student, teacher, teacher_input)
        return
    s_in = [tuple(t.shape[1:]) for t in student.inputs]
    t_in = [tuple(t.shape[1:]) for t in teacher.inputs]
    if s_in != t_in:
        s_in, t_in = (v[0] if len(v) == 1 else v for v in (s_in, t_in))
        raise ValueError(
            "`student` and `teacher` must take inputs of the same shape, or "
            "`teacher_input` must map the student's batch to the teacher's input (e.g. "
            f"keras.layers.Resizing). Received: student input {s_in}, teacher input {t_in}"
        )


def _check_teacher_input(student, teacher, teacher_input):
    """`teacher_input` must map a student batch to the teacher's input shape."""
    if not callable(teacher_input):
        raise ValueError(
            "`teacher_input` must be a Keras layer or a function applied to each "
            f"batch before the teacher. Received: teacher_input={teacher_input!r}"
        )
    if len(student.inputs) != 1 or len(teacher.inputs) != 1:
        return
    s_in = tuple(student.inputs[0].shape[1:])
    t_in = tuple(teacher.inputs[0].shape[1:])
    if None in s_in:
        return
    probe = tf.zeros((1, *s_in), dtype=student.inputs[0].dtype)
    try:
        mapped = tuple(teacher_input(probe).shape[1:])
    except Exception as err:  # the user's function failed on a batch of the student's shape
        raise ValueError(
            "`teacher_input` must accept a batch of the student's inputs "
            f"{s_in}; calling it on one failed: {type(err).__name__}: {err}. Received: "
            f"teacher_input={teacher_input!r}"
        ) from None
    if any(t is not None and m != t for m, t in zip(mapped, t_in, strict=False)) or len(
        mapped
    ) != len(t_in):
        raise ValueError(
            f"`teacher_input` must map the student's inputs {s_in} to the teacher's input "
            f"shape {t_in}. Received: teacher_input={teacher_input!r}, which gives "
            f"{mapped}"
        )
