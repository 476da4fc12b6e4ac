"""Loss terms: the pieces a distiller is declared from.

A term is one named scalar of the total loss: its weight, the stages in
which it is active, the layers it taps on each network and the trainable
adapters it owns. `Distiller` takes a list of terms, taps every layer they
name in one pass per network, and logs each as ``{name}_loss``. A method is
a preset list of terms; terms from different methods compose in one
distiller (``Distiller(student, teacher, terms=[...])``).
"""

import keras

from keras_kd._checks import layer_name_list, non_negative_float, temperature_value
from keras_kd.distillers._arguments import RecordedArguments, deserialize_arguments
from keras_kd.features import OUTPUT_KEY, PREDICTIONS_KEY
from keras_kd.layers.connector import build_connector
from keras_kd.losses._align import check_alignable
from keras_kd.losses.kd import kd_loss

INIT, MAIN = "init", "main"


class Term(RecordedArguments):
    """One named loss term: the base class of every distillation term.

    Subclasses set ``name`` (the log key: the term is logged as
    ``{name}_loss``), ``stages`` (where the term is active: ``("main",)``,
    ``("init",)`` or both), ``uses_logits`` (whether it needs the networks'
    outputs, which makes the whole network run), ``pairs_required``
    (``(minimum, exactly)`` layer pairs) and implement
    ``__call__(teacher, student, y, sample_weight)``, where ``teacher`` and
    ``student`` map ``"output"`` and each tapped layer name to its tensor and
    which returns a scalar; ``sample_weight`` is per position (padding 0)
    when the student's logits have positions and a Keras mask
    (`keras_kd.losses.batch_mean` reduces either). A term that reads the
    labels as classes sets ``uses_class_labels`` (they are then checked
    even when the user compiled a loss of their own); one that relates the
    samples of a batch through their logits and takes no positions sets
    ``per_sample_logits`` (the distiller then refuses logits with positions).
    Terms get the labels and weights of the logits; one that sets
    ``uses_all_outputs`` (the task term) gets them for every output of a
    student with several, and ``student["predictions"]`` holds its outputs.
    `build` checks the tapped shapes and creates
    trainable adapters (``self.adapters``) once the shapes are known; register
    the class for saving with ``keras.saving.register_keras_serializable``.
    The constructor's arguments are recorded once (``arguments``): `get_config`
    is that record, so a term lists its arguments only in its signature.

    A term with state of its own between steps (CRD's memory banks) sets
    ``uses_sample_index`` (its dicts then also hold ``"sample_index"``, each
    sample's index in the training set), keeps its state in non-trainable
    variables of layers listed in ``self.state_layers`` (saved with the
    distiller, never trained) and changes it only in `update_state`, which the
    template calls after the guarded update; `faults` adds checks of its own
    to the step guard.

    Args:
        weight: the term's weight in the total loss (a free float >= 0).
        student_layers: names of the student layers the term taps.
        teacher_layers: names of the matching teacher layers (same length).

    Example:
        ```python
        @keras.saving.register_keras_serializable(package="my_project")
        class CosineTerm(Term):
            name = "cosine"
            pairs_required = (1, None)

            def __call__(self, teacher, student, y, sample_weight):
                return sum(
                    keras.ops.mean(keras.losses.cosine_similarity(teacher[t], student[s]) + 1.0)
                    for s, t in self.pairs
                )

        distiller = Distiller(student, teacher, terms=[CosineTerm(1.0, ["pool"], ["pool"])])
        ```
    """

    name = "term"
    stages = (MAIN,)
    uses_logits = False
    uses_input_gradient = False
    uses_sample_index = False
    uses_class_labels = False
    per_sample_logits = False
    uses_all_outputs = False
    pairs_required = (0, None)  # (minimum, exactly)
    weight_argument = "weight"
    used_by = None  # the distiller class that uses this term, named in error messages

    def __init__(self, weight=1.0, student_layers=None, teacher_layers=None):
        self.weight = non_negative_float(self.weight_argument, weight)
        self.student_layers = layer_name_list("student_layers", student_layers)
        self.teacher_layers = layer_name_list("teacher_layers", teacher_layers)
        if len(self.student_layers) != len(self.teacher_layers):
            raise ValueError(
                "`student_layers` and `teacher_layers` must have the same length "
                "(one teacher layer per student layer). Received: "
                f"student_layers={self.student_layers}, teacher_layers={self.teacher_layers}"
            )
        minimum, exactly = self.pairs_required
        count = len(self.student_layers)
        if count < minimum or (exactly is not None and count != exactly):
            wanted = f"exactly {exactly}" if exactly is not None else f"at least {minimum}"
            raise ValueError(
                f"{type(self).__name__} needs {wanted} (student layer, teacher layer) "
                f"pair(s). Received: student_layers={self.student_layers}, "
                f"teacher_layers={self.teacher_layers}"
            )
        self.adapters = []
        self.state_layers = []

    @property
    def pairs(self):
        """``(student_layer, teacher_layer)`` tuples, in order."""
        return list(zip(self.student_layers, self.teacher_layers, strict=True))

    def build(self, shapes):
        """Checks the tapped shapes and creates adapters.

        Args:
            shapes: callable ``(network, layer) -> static shape``, network being
                ``"student"`` or ``"teacher"``.
        """

    def bind(self, distiller):
        """Called once the distiller is built (e.g. to read its epoch counter).

        Args:
            distiller: the `Distiller` the term belongs to.
        """

    def faults(self, teacher, student):
        """Checks of the batch that refuse the step (e.g. sample indices out of range).

        Args:
            teacher: the teacher's dict, as `__call__` gets it.
            student: the student's dict.

        Returns:
            A list of ``(condition, code, detail)`` for the step guard (empty here).
        """
        return []

    def update_state(self, applied):
        """Commits the state the step computed (called after the guarded update).

        Args:
            applied: a boolean scalar tensor, True when the step's update was
                applied; when False the state must stay as it was.
        """

    def __call__(self, teacher, student, y, sample_weight):
        raise TypeError(
            f"{type(self).__name__} must implement `__call__(teacher, student, y, "
            "sample_weight)`, returning the term's scalar (see `NSTTerm` for a model)."
        )

    def get_config(self):
        """The constructor arguments that rebuild the term when a distiller is loaded.

        Returns:
            The recorded ``__init__`` arguments (`RecordedArguments.arguments`).
        """
        return self.serialized_arguments()

    @classmethod
    def from_config(cls, config):
        """Rebuilds a term from `get_config`'s dict.

        Args:
            config: the dict `get_config` returned.

        Returns:
            A new term of this class.
        """
        return cls(**deserialize_arguments(config))


class TaskTerm(Term):
    """The student's task loss: the loss given to `compile` (``loss=``), or the
    cross-entropy on class labels (softmax, or sigmoid for a single logit).

    `Distiller` adds it to every method with ``task_weight``; it taps no layer.

    Args:
        weight: the cross-entropy's weight (a distiller's ``task_weight``).
        student_layers: unused (the term taps no layer).
        teacher_layers: unused (the term taps no layer).

    Example:
        ```python
        distiller.loss_weights["task"]  # the TaskTerm's weight, task_weight
        ```
    """

    name = "task"
    uses_logits = True
    uses_all_outputs = True
    weight_argument = "task_weight"

    def bind(self, distiller):
        self.trainer = distiller

    def __call__(self, teacher, student, y, sample_weight):
        predictions = student.get(PREDICTIONS_KEY, student[OUTPUT_KEY])
        return self.trainer.task_loss(y, predictions, sample_weight)


class KDTerm(Term):
    """Hinton KD between the logits: ``kd_loss(t, s, temperature)``.

    Optionally on standardized logits (Sun et al., CVPR 2024). `Distiller` adds
    it with ``kd_weight`` (absent when 0), so every method can take a KD term.

    Args:
        weight: the KD term's weight (a distiller's ``kd_weight``).
        temperature: T in (0, 1000].
        logit_standardization: z-score each sample's logits before the softmax.

    Example:
        ```python
        AttentionTransfer(student, teacher, ["stage3"], ["stage3"], kd_weight=0.9)  # adds a KDTerm
        ```

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        2015; Sun, Ren, Li, Wang, Cao, "Logit Standardization in Knowledge
        Distillation", CVPR 2024.
    """

    name = "kd"
    uses_logits = True
    weight_argument = "kd_weight"

    def __init__(self, weight=0.9, temperature=4.0, logit_standardization=False):
        super().__init__(weight)
        self.temperature = temperature_value("temperature", temperature)
        self.logit_standardization = bool(logit_standardization)

    def __call__(self, teacher, student, y, sample_weight):
        return kd_loss(
            teacher[OUTPUT_KEY],
            student[OUTPUT_KEY],
            self.temperature,
            sample_weight,
            standardize=self.logit_standardization,
        )


def check_pairs_alignable(term, shapes):
    """Raises unless every pair of 4-D maps can be spatially aligned."""
    for s, t in term.pairs:
        check_alignable(
            shapes("teacher", t),
            shapes("student", s),
            f"teacher layer {t!r}",
            f"student layer {s!r}",
        )


def check_same_spatial_size(term, shapes):
    """Raises unless every pair has 4-D maps of equal height and width."""
    for s, t in term.pairs:
        s_shape, t_shape = shapes("student", s), shapes("teacher", t)
        if len(s_shape) != 4 or len(t_shape) != 4 or s_shape[1:3] != t_shape[1:3]:
            raise ValueError(
                f"{type(term).__name__} needs 4-D feature maps of the same height and "
                f"width in each pair. Received: student layer {s!r} shape {s_shape}, "
                f"teacher layer {t!r} shape {t_shape}"
            )


def pair_connectors(term, shapes, name, **connector_kwargs):
    """One trainable connector per (student, teacher) pair of ``term``, mapping
    the student feature to the teacher's shape (`keras_kd.layers.build_connector`)."""
    return [
        build_connector(
            shapes("student", s),
            shapes("teacher", t),
            name=f"{name}_{i}",
            student_layer=s,
            teacher_layer=t,
            method=f"{term.used_by} ({type(term).__name__})"
            if term.used_by
            else type(term).__name__,
            **connector_kwargs,
        )
        for i, (s, t) in enumerate(term.pairs)
    ]


def register_term(cls):
    """Registers a term class for saving (package ``keras_kd``)."""
    return keras.saving.register_keras_serializable(package="keras_kd")(cls)
