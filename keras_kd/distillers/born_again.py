"""Born-Again Networks: self-distillation over generations."""

from keras_kd._checks import positive_int
from keras_kd.distillers.chain import DistillationChain
from keras_kd.distillers.ensemble import ensemble_teacher


class BornAgain(DistillationChain):
    """Born-Again generations: ``T = S_0 -> S_1 -> ... -> S_k``, each a KD fit.

    Generation 1 learns from ``teacher``; generation g from generation g - 1.
    Every generation is a fresh model from ``build_student`` (the teacher's
    architecture in the paper) trained with `KD`; generations are saved and
    resumed as in `DistillationChain`.

    Args:
        teacher: the generation-0 model (functional, returning logits).
        build_student: callable returning a new, untrained functional model.
        generations: k >= 1.
        directory: where generations are kept (required for resuming).
        **kd_kwargs: passed to each `KD` (``temperature``, ``task_weight``,
            ``kd_weight``); the paper uses the plain KL to the previous
            generation with the cross-entropy.

    Example:
        ```python
        ban = BornAgain(teacher, lambda: resnet20(), generations=2, directory="ban")
        ban.compile(optimizer=lambda: keras.optimizers.SGD(0.05), metrics=["accuracy"])
        ban.fit(train, epochs=10)
        ensemble = ban.ensemble()  # BAN-E
        ```

    Reference:
        Furlanello et al., "Born-Again Neural Networks", ICML 2018.
    """

    BUILDER_ARGUMENT = "build_student"
    STAGE_NAME = "generation"

    def __init__(self, teacher, build_student, generations=2, directory=None, **kd_kwargs):
        if not callable(build_student):
            raise ValueError(
                "`build_student` must be a callable returning a new Keras model. "
                f"Received: build_student={build_student!r}"
            )
        self.build_student = build_student
        self.generations = positive_int("generations", generations)
        super().__init__(teacher, [build_student] * self.generations, directory, **kd_kwargs)

    def ensemble(self, name="ban_ensemble"):
        """BAN-E: a plain Keras model averaging the generations' predictions.

        It returns ``log(mean_g softmax(z_g))``, logits whose softmax is the
        average of the generations' class probabilities. It is built from
        Keras layers and `keras.ops` only (no `Lambda`), so once saved it
        loads with the default ``safe_mode=True`` without keras_kd.

        Args:
            name: the model's name.

        Returns:
            A functional `keras.Model` from the input to the ensemble's logits.
        """
        if not self.models:
            raise RuntimeError("Call `fit` before `ensemble`.")
        return ensemble_teacher(self.models, temperature=1.0, name=name)
