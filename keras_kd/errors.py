"""Typed exceptions raised where keras_kd finds a fault."""


class NonFiniteLossError(FloatingPointError):
    """A loss term or a gradient was NaN or infinite; the step was not applied."""


class LabelError(ValueError):
    """Labels that the model cannot be trained on."""


class ProbabilityOutputError(ValueError):
    """A model returned probabilities where logits are needed."""


class TeacherCacheMismatchError(ValueError):
    """A batch's inputs differ from those its cached teacher outputs came from."""
