"""Born-Again Networks: self-distillation over generations."""

import os

import keras
import numpy as np

from keras_kd._checks import positive_int
from keras_kd._io import save_model_atomically
from keras_kd.distillers.kd import KD


def _fresh_optimizer(optimizer):
    if callable(optimizer) and not isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer()
    optimizer = keras.optimizers.get(optimizer)
    return optimizer.__class__.from_config(optimizer.get_config())


class BornAgain:
    """Born-Again generations: ``T = S_0 -> S_1 -> ... -> S_k``, each a KD fit.

    Generation 1 learns from ``teacher``; generation g from generation g - 1.
    Every generation is a fresh model from ``build_student`` trained with
    `KD` through the usual `compile`/`fit`. Each finished generation is saved
    to ``directory/generation{g}.keras`` (atomically) and is never retrained:
    calling `fit` again after an interruption resumes at the first missing
    generation, and within a generation `keras.callbacks.BackupAndRestore`
    (under ``directory/generation{g}-backup``) resumes from the last epoch.

    Args:
        teacher: the generation-0 model (functional, returning logits).
        build_student: callable returning a new, untrained functional model.
        generations: k >= 1.
        directory: where generations are kept (required for resuming).
        **kd_kwargs: passed to each `KD` (``temperature``, ``task_weight``,
            ``kd_weight``); the paper uses the plain KL to the previous
            generation with the cross-entropy.

    Example:
        >>> ban = BornAgain(teacher, lambda: resnet20(), generations=2, directory="ban")
        >>> ban.compile(optimizer=lambda: keras.optimizers.SGD(0.05), metrics=["accuracy"])
        >>> ban.fit(train, epochs=10)
        >>> ensemble = ban.ensemble()  # BAN-E

    Reference:
        Furlanello et al., "Born-Again Neural Networks", ICML 2018.
    """

    def __init__(self, teacher, build_student, generations=2, directory=None, **kd_kwargs):
        if not callable(build_student):
            raise ValueError(
                "`build_student` must be a callable returning a new Keras model. "
                f"Received: build_student={build_student!r}"
            )
        self.teacher = teacher
        self.build_student = build_student
        self.generations = positive_int("generations", generations)
        self.directory = directory
        self.kd_kwargs = kd_kwargs
        self.models = []
        self._optimizer = self._metrics = None
        KD(student=build_student(), teacher=teacher, **kd_kwargs)  # validates the pair eagerly

    def compile(self, optimizer="sgd", metrics=None):
        """Sets the optimizer (a callable returning one, or an optimizer whose
        config is cloned for every generation) and the metrics."""
        self._optimizer, self._metrics = optimizer, metrics

    def _path(self, generation, suffix=".keras"):
        return os.path.join(self.directory, f"generation{generation}{suffix}")

    def fit(self, x=None, y=None, epochs=1, callbacks=None, **fit_kwargs):
        """Trains the missing generations; returns ``{generation: History}``."""
        if self._optimizer is None:
            raise RuntimeError("Call `compile` before `fit`.")
        histories, previous, self.models = {}, self.teacher, []
        for g in range(1, self.generations + 1):
            if self.directory and os.path.exists(self._path(g)):
                student = keras.saving.load_model(self._path(g))
            else:
                student = self.build_student()
                if any(student is m for m in (self.teacher, *self.models)):
                    raise ValueError(
                        "`build_student` must return a new model on every call; it returned "
                        f"{student.name!r}, which is already the teacher or a generation. "
                        f"Received: build_student={self.build_student!r}"
                    )
                distiller = KD(student=student, teacher=previous, **self.kd_kwargs)
                distiller.compile(
                    optimizer=_fresh_optimizer(self._optimizer), metrics=self._metrics
                )
                extra = list(callbacks or [])
                if self.directory:
                    extra.append(keras.callbacks.BackupAndRestore(self._path(g, "-backup")))
                histories[g] = distiller.fit(x, y, epochs=epochs, callbacks=extra, **fit_kwargs)
                if self.directory:
                    save_model_atomically(student, self._path(g))
            self.models.append(student)
            previous = student
        return histories

    @property
    def student(self):
        """The last generation."""
        if not self.models:
            raise RuntimeError("Call `fit` before `student`: no generation is trained yet.")
        return self.models[-1]

    deployable = student

    def ensemble(self, name="ban_ensemble"):
        """BAN-E: a plain Keras model averaging the generations' predictions.

        It returns ``log(mean_g softmax(z_g))``, logits whose softmax is the
        average of the generations' class probabilities. It is built from
        Keras layers and `keras.ops` only (no `Lambda`), so once saved it
        loads with the default ``safe_mode=True`` without keras_kd.
        """
        if not self.models:
            raise RuntimeError("Call `fit` before `ensemble`.")
        inputs = keras.Input(tuple(self.models[0].inputs[0].shape[1:]))
        # Generations share a builder, hence a name; nest each under its own.
        named = [
            keras.Model(m.inputs[0], m.outputs[0], name=f"generation{g}")
            for g, m in enumerate(self.models, start=1)
        ]
        probs = [keras.layers.Softmax()(m(inputs)) for m in named]
        mean = keras.layers.Average()(probs) if len(probs) > 1 else probs[0]
        eps = float(np.finfo("float32").tiny)
        logits = keras.ops.log(keras.ops.maximum(mean, eps))
        return keras.Model(inputs, logits, name=name)
