"""Chains of KD fits: teacher -> m_1 -> ... -> m_k, each stage saved and resumable."""

import os

import keras

from keras_kd._io import save_model_atomically
from keras_kd._progress import say
from keras_kd.distillers.kd import KD


def _fresh_optimizer(optimizer):
    if callable(optimizer) and not isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer()
    optimizer = keras.optimizers.get(optimizer)
    return optimizer.__class__.from_config(optimizer.get_config())


class DistillationChain:
    """A chain of `KD` fits: ``teacher -> m_1 -> m_2 -> ... -> m_k``.

    Model g is a fresh model from ``builders[g - 1]`` that learns from model
    g - 1 (the teacher for g = 1) through the usual `compile`/`fit`. Each
    finished model is saved to ``directory/generation{g}.keras`` (atomically)
    and is never retrained: calling `fit` again after an interruption resumes
    at the first missing model, and within one `keras.callbacks.BackupAndRestore`
    (under ``directory/generation{g}-backup``) resumes from the last epoch.

    Args:
        teacher: the first teacher (functional, returning logits).
        builders: callables, each returning a new, untrained model.
        directory: where the models are kept (required for resuming).
        **kd_kwargs: passed to each `KD` (``temperature``, ``task_weight``,
            ``kd_weight``, ...).

    Attributes:
        models: the trained models, in order (filled by `fit`).
        student: the last model of the chain (also ``deployable``).

    Example:
        ```python
        chain = DistillationChain(teacher, [build_medium, build_small], directory="ta")
        chain.compile(optimizer=lambda: keras.optimizers.SGD(0.05), metrics=["accuracy"])
        chain.fit(train, epochs=10)
        chain.student.save("small.keras")
        ```

    Reference:
        Furlanello et al., "Born-Again Neural Networks", ICML 2018 (a chain of
        one architecture); Mirzadeh et al., "Improved Knowledge Distillation
        via Teacher Assistant", AAAI 2020 (a chain of shrinking models).
    """

    BUILDER_ARGUMENT = "builders"
    STAGE_NAME = "stage"  # in the progress lines: "stage 2 of 3"

    def __init__(self, teacher, builders, directory=None, **kd_kwargs):
        builders = list(builders) if isinstance(builders, list | tuple) else [builders]
        if not builders or not all(callable(b) for b in builders):
            raise ValueError(
                "`builders` must be a non-empty list of callables, each returning a new Keras "
                f"model. Received: builders={builders!r}"
            )
        self.teacher = teacher
        self.builders = builders
        self.directory = directory
        self.kd_kwargs = kd_kwargs
        self.models = []
        self._optimizer = self._metrics = None
        self._check_stages()

    def _stage_argument(self, generation):
        """The argument that builds stage ``generation``, for messages."""
        if len(set(map(id, self.builders))) == 1:
            return self.BUILDER_ARGUMENT
        return f"{self.BUILDER_ARGUMENT}[{generation - 1}]"

    def _check_stages(self):
        """Builds every stage's model and checks each (teacher, model) pair as a `KD`.

        Runs before anything trains, so a later stage with another class count
        or input shape is refused before the first stage writes a file.
        """
        built = {}
        for builder in self.builders:
            if id(builder) in built:
                continue
            first, second = builder(), builder()  # two calls: a fresh model on each
            if first is second:
                raise ValueError(
                    f"`{self.BUILDER_ARGUMENT}` must return a new model on every call (each "
                    "stage of the chain trains a fresh model); it returned the same object "
                    f"twice. Received: {self.BUILDER_ARGUMENT}={builder!r}"
                )
            built[id(builder)] = (first, second)
        previous, count = self.teacher, len(self.builders)
        for g, builder in enumerate(self.builders, start=1):
            first, second = built[id(builder)]
            model = second if first is previous else first
            try:
                KD(student=model, teacher=previous, **self.kd_kwargs)
            except ValueError as err:
                teacher = "the teacher" if g == 1 else f"{self.STAGE_NAME} {g - 1}'s model"
                raise ValueError(
                    f"{self.STAGE_NAME} {g} of {count} (`{self._stage_argument(g)}`) cannot "
                    f"learn from {teacher}, so nothing was trained: {err}"
                ) from None
            previous = model

    def compile(self, optimizer="sgd", metrics=None):
        """Sets the optimizer and the metrics every model of the chain is compiled with.

        Args:
            optimizer: a callable returning a new optimizer, or an optimizer (or
                its name) whose config is cloned for every model.
            metrics: the metrics, as for `keras.Model.compile`.
        """
        self._optimizer, self._metrics = optimizer, metrics

    def _path(self, generation, suffix=".keras"):
        return os.path.join(self.directory, f"generation{generation}{suffix}")

    def _build(self, generation):
        builder = self.builders[generation - 1]
        model = builder()
        if any(model is m for m in (self.teacher, *self.models)):
            raise ValueError(
                f"`{self.BUILDER_ARGUMENT}` must return a new model on every call; it returned "
                f"{model.name!r}, which is already the teacher or an earlier model of the "
                f"chain. Received: {self.BUILDER_ARGUMENT}={builder!r}"
            )
        return model

    def fit(self, x=None, y=None, epochs=1, callbacks=None, verbose="auto", **fit_kwargs):
        """Trains the missing models in order.

        Args:
            x: the training data, as for `keras.Model.fit`.
            y: the labels, when ``x`` is an array.
            epochs: epochs of each model.
            callbacks: callbacks for every model's fit (a `BackupAndRestore` under
                ``directory`` is added).
            verbose: as for `keras.Model.fit`, for every model's fit; unless
                0, a line also names each stage as it starts (``stage 2 of
                3``, or ``generation 2 of 3`` for `BornAgain`).
            **fit_kwargs: other `keras.Model.fit` arguments (``validation_data``, ...).

        Returns:
            ``{generation: History}`` of the models trained by this call.
        """
        if self._optimizer is None:
            raise RuntimeError("Call `compile` before `fit`.")
        histories, previous, self.models = {}, self.teacher, []
        count = len(self.builders)
        for g in range(1, count + 1):
            stage = f"{self.STAGE_NAME} {g} of {count}"
            if self.directory and os.path.exists(self._path(g)):
                say(f"{stage}: loaded from {self._path(g)}", verbose)
                student = keras.saving.load_model(self._path(g))
            else:
                say(stage, verbose)
                student = self._build(g)
                distiller = KD(student=student, teacher=previous, **self.kd_kwargs)
                distiller.compile(
                    optimizer=_fresh_optimizer(self._optimizer), metrics=self._metrics
                )
                extra = list(callbacks or [])
                if self.directory:
                    extra.append(keras.callbacks.BackupAndRestore(self._path(g, "-backup")))
                histories[g] = distiller.fit(
                    x, y, epochs=epochs, callbacks=extra, verbose=verbose, **fit_kwargs
                )
                if self.directory:
                    save_model_atomically(student, self._path(g))
            self.models.append(student)
            previous = student
        return histories

    @property
    def student(self):
        """The last model of the chain (raises before `fit`)."""
        if not self.models:
            raise RuntimeError("Call `fit` before `student`: no model is trained yet.")
        return self.models[-1]

    deployable = student


class TeacherAssistantChain(DistillationChain):
    """Teacher-assistant distillation: ``teacher -> assistant(s) -> student``.

    When the gap between teacher and student is large, a model of
    intermediate size learns from the teacher first and then teaches the
    student. Each stage is a `KD` fit, saved and resumable as in
    `DistillationChain`.

    Args:
        teacher: the large teacher.
        build_assistants: a callable (or a list of callables, large to small)
            returning a new assistant model.
        build_student: a callable returning the new, final student.
        directory: where the assistant(s) and the student are kept.
        **kd_kwargs: passed to each `KD`.

    Example:
        ```python
        ta = TeacherAssistantChain(teacher, resnet20, mlperf_tiny_resnet8, directory="ta")
        ta.compile(optimizer=lambda: keras.optimizers.SGD(0.05), metrics=["accuracy"])
        ta.fit(train, epochs=10)
        ta.student.save("student.keras")
        ```

    Reference:
        Mirzadeh et al., "Improved Knowledge Distillation via Teacher
        Assistant", AAAI 2020.
    """

    BUILDER_ARGUMENT = "build_assistants/build_student"

    def __init__(self, teacher, build_assistants, build_student, directory=None, **kd_kwargs):
        assistants = (
            list(build_assistants)
            if isinstance(build_assistants, list | tuple)
            else [build_assistants]
        )
        self._assistants_listed = isinstance(build_assistants, list | tuple)
        super().__init__(teacher, [*assistants, build_student], directory, **kd_kwargs)

    def _stage_argument(self, generation):
        if generation == len(self.builders):
            return "build_student"
        if self._assistants_listed:
            return f"build_assistants[{generation - 1}]"
        return "build_assistants"

    @property
    def assistants(self):
        """The trained assistant models."""
        return self.models[:-1]
