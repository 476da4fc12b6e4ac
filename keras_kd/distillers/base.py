"""The Distiller: a frozen teacher, one student and a list of loss terms, on
the step template of `keras_kd.distillers._trainer`."""

import keras
import tensorflow as tf

from keras_kd._checks import non_negative_float, non_negative_int
from keras_kd.data.indexed import SAMPLE_INDEX_KEY, require_sample_index, split_sample_index
from keras_kd.distillers import _faults, _taps
from keras_kd.distillers._arguments import declared_arguments
from keras_kd.distillers._cached import mismatch_fraction, split_cached
from keras_kd.distillers._model_checks import check_terms_take_positions
from keras_kd.distillers._pair_checks import check_pair
from keras_kd.distillers._stages import INIT, MAIN
from keras_kd.distillers._terms import KDTerm, TaskTerm
from keras_kd.distillers._trainer import KERAS_ARGUMENTS, TermTrainer
from keras_kd.features import OUTPUT_KEY, PREDICTIONS_KEY, build_feature_extractor
from keras_kd.losses._reduce import position_weights

INPUT_GRADIENT_KEY = _taps.INPUT_GRADIENT_KEY
_MODELS = ("student", "teacher", "terms", "teacher_input")


@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(TermTrainer):
    """A frozen teacher, one student, and a list of loss terms.

    Each network runs once per step through a dict-output feature extractor
    over every layer the active terms tap: the teacher in inference mode
    outside the gradient tape, the student in training mode inside it. The
    step minimizes ``sum(weight * term) + student regularization``, logs every
    raw term as ``{name}_loss`` and the total as ``loss``, and updates the
    compiled metrics on the student's logits. `test_step` runs the student
    alone. The user's models are not changed: the teacher is frozen inside
    the distiller (no update, inference mode) whatever its `trainable` flag.

    Methods (`KD`, `AttentionTransfer`, ...) are presets of this class; use it
    directly to compose terms of several methods on any taps. A new method is a
    subclass whose ``__init__`` lists its arguments (with its defaults) and
    calls ``super().__init__(student, teacher, **kwargs)``, and which names its
    term class in ``method_term``: the template records the arguments once
    (``arguments``), builds the term from those its constructor names
    (``weight`` from ``feature_weight``) and derives `get_config`. A method
    with several terms overrides `method_terms` instead.

    Args:
        student: a functional or Sequential Keras model that outputs logits.
        teacher: a functional or Sequential model with the same output shape.
        terms: extra `Term` objects (e.g. ``[AttentionTerm(...), NSTTerm(...)]``).
        task_weight: weight of the student's cross-entropy on the labels.
        kd_weight: weight of a Hinton KD term on the logits (0: none).
        temperature: T of the KD term, in (0, 1000].
        logit_standardization: z-score each sample's logits before the KD
            term's softmax (Sun et al., CVPR 2024).
        init_epochs: epochs of the init stage, run by the first `fit` before
            the main stage when a term has one (once per distiller).
        teacher_input: optional layer or function applied to each batch
            before the teacher (e.g. ``keras.layers.Resizing(224, 224)`` for a
            teacher trained at another resolution).
        logits_output: for a student with several outputs (a detector's
            class and box heads), the name of the one holding the logits: a
            dict output's key, or the output layer's name for a list. The
            logit terms read it (and the teacher's output of that name, or the
            teacher's only one); `compile`'s ``loss``, ``loss_weights`` and
            ``metrics`` are per output, keyed by these names. None for one output.
        check_finite: skip and report a step whose term or gradient is NaN/inf.
        **kwargs: Keras's ``name``; a subclass's own arguments reach the
            template through the record (``arguments``), not through here.

    Attributes:
        student: the student model, unchanged: the plain Keras model to save
            and export (``distiller.student.save("student.keras")``).
        teacher: the teacher model (frozen inside the distiller).
        deployable: the model `keras_kd.export.to_tflite` exports (here the
            student; for ONE, BYOT, DML the member they deploy).
        stages: ``("init", "main")`` when a term has an init stage (FitNet's
            hint stage, AB, FSP, FT's paraphraser), else ``("main",)``.
        stage: the stage the next `fit` trains (``"main"`` unless `set_stage`).
        init_epochs_done: a `keras.Variable` counting the init-stage epochs run
            (saved with the distiller, so a reloaded one does not rerun them).
        main_epochs_done: a `keras.Variable` counting the main-stage epochs run.
        all_terms: every `Term`: the task and KD terms, the method's own, then ``terms``.
        adapters: the trainable adapters the terms own (regressors,
            connectors, paraphraser, translator); trained, never exported.
        loss_weights: ``{term name: weight}`` of the terms active in `stage`.
        teacher_cacheable: whether `keras_kd.cache` may store the teacher's
            outputs for this method (False when the teacher sees a new view of
            every batch, as in `FunctionMatching`).

    Example:
        ```python
        distiller = keras_kd.distillers.Distiller(
            student, teacher, task_weight=0.1, kd_weight=0.9,
            terms=[keras_kd.distillers.AttentionTerm(1000.0, ["stage2"], ["stage2"])],
        )
        distiller.compile(optimizer="adam", metrics=["accuracy"])
        distiller.fit(train, epochs=10, validation_data=val)
        distiller.student.save("student.keras")
        ```

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        2015 (the KD term); each `Term` names its own paper.
    """

    teacher_cacheable = True
    method_term = None

    def __init__(
        self,
        student,
        teacher,
        terms=None,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        logit_standardization=False,
        init_epochs=0,
        teacher_input=None,
        logits_output=None,
        check_finite=True,
        **kwargs,
    ):
        a = self.arguments
        declared = declared_arguments(type(self), inherit=True)
        super().__init__(
            check_finite=a["check_finite"], **{k: v for k, v in a.items() if k not in declared}
        )
        if "feature_weight" in a:
            non_negative_float("feature_weight", a["feature_weight"])
        self.init_epochs = non_negative_int("init_epochs", a["init_epochs"])
        for key, value in a.items():
            if key not in (*_MODELS, *KERAS_ARGUMENTS, "check_finite", "init_epochs"):
                setattr(self, key, value)
        self.student, self.teacher = a["student"], a["teacher"]
        self.teacher_input = a["teacher_input"]
        self.extra_terms = list(a["terms"] or [])
        kd = KDTerm(a["kd_weight"], a["temperature"], a["logit_standardization"])
        self.all_terms = [TaskTerm(a["task_weight"]), kd, *self.method_terms(), *self.extra_terms]
        _check_logit_standardization(self, a)
        names = [term.name for term in self.all_terms]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"Each term must have its own name; {duplicated} appear more than once. "
                f"Received: terms named {names}"
            )
        if a["logits_output"] is not None and not isinstance(a["logits_output"], str):
            raise ValueError(
                "`logits_output` must be the name (a string) of the student's output that "
                f"holds the logits, or None. Received: logits_output={a['logits_output']!r}"
            )
        check_pair(self.student, self.teacher, self.teacher_input, self.logits_output)
        check_terms_take_positions(self, self.all_terms)
        layers = _taps.layers_by_network(self.all_terms)
        self.student_taps = build_feature_extractor(
            self.student,
            layers["student"],
            argument="student_layers",
            logits_output=self.logits_output,
            predictions=self.logits_output is not None,
        )
        self.teacher_taps = build_feature_extractor(
            self.teacher,
            layers["teacher"],
            argument="teacher_layers",
            logits_output=self.logits_output,
        )
        for term in self.all_terms:
            term.build(self.feature_shape)
        self.adapters = [a for term in self.all_terms for a in term.adapters]
        self.term_states = [layer for term in self.all_terms for layer in term.state_layers]
        self.stages = (INIT, MAIN) if self._active_terms(INIT) else (MAIN,)
        self.stage = MAIN
        full = {"student": self.student_taps, "teacher": self.teacher_taps}
        self._stage_taps = {
            stage: _taps.stage_taps(self._active_terms(stage), full, stage) for stage in self.stages
        }
        self.init_epochs_done = keras.Variable(
            0, dtype="int32", trainable=False, name="init_epochs_done"
        )
        self.main_epochs_done = keras.Variable(
            0, dtype="int32", trainable=False, name="main_epochs_done"
        )
        self.declare_terms(names, outputs=("teacher", "student"))
        for term in self.all_terms:
            term.bind(self)

    def method_terms(self):
        """The method's own terms, from its recorded arguments.

        Here: one `method_term` (when the class names one) built from the
        arguments its constructor takes, ``weight`` being ``feature_weight``.
        A method with several terms, or other names, overrides this.

        Returns:
            A list of `Term` objects (empty for the base class).
        """
        if self.method_term is None:
            return []
        return [self.method_term(**self.arguments_for(self.method_term))]

    def arguments_for(self, term_class, **renamed):
        """The recorded arguments that ``term_class``'s constructor names.

        Args:
            term_class: a `Term` subclass.
            **renamed: ``term argument="distiller argument"`` pairs besides
                ``weight="feature_weight"``.

        Returns:
            A dict of keyword arguments for ``term_class``.
        """
        names = {"weight": "feature_weight", **renamed}
        wanted = declared_arguments(term_class, inherit=False)
        return {
            n: self.arguments[names.get(n, n)] for n in wanted if names.get(n, n) in self.arguments
        }

    def _active_terms(self, stage):
        return [t for t in self.all_terms if stage in t.stages and t.weight > 0]

    def feature_shape(self, network, name):
        """Static shape of a tapped feature.

        Args:
            network: ``"student"`` or ``"teacher"``.
            name: the tapped layer's name.

        Returns:
            The shape as a tuple with the batch axis, e.g. ``(None, 16, 16, 32)``.
        """
        taps = self.student_taps if network == "student" else self.teacher_taps
        return tuple(taps.output[name].shape)

    @property
    def deployable(self):
        """The plain Keras model that is saved and exported: the student."""
        return self.student

    @property
    def loss_weights(self):
        """``{term name: weight}`` of the terms active in the current stage."""
        return {t.name: t.weight for t in self._active_terms(self.stage)}

    def trained_models(self):
        return [self.student, *self.adapters]

    def _sample_index_terms(self):
        return [t for t in self._active_terms(self.stage) if t.uses_sample_index]

    def check_fit_data(self, x):
        """Training data must carry sample indices when a term keeps a memory per sample.

        Args:
            x: `fit`'s ``x``.
        """
        for term in self._sample_index_terms():
            require_sample_index(x, term.num_samples, [term.name])

    def teacher_batch(self, x):
        """The batch as the teacher takes it (through `teacher_input`).

        Args:
            x: the student's batch of inputs.

        Returns:
            ``teacher_input(x)``, or ``x`` when there is no `teacher_input`.
        """
        return x if self.teacher_input is None else self.teacher_input(x)

    def teacher_outputs_for_cache(self, x, y):
        """What `keras_kd.cache` stores per sample: logits and every tap.

        Args:
            x: a batch of inputs.
            y: its labels (used by terms that need the teacher's input gradient).

        Returns:
            ``{"output": logits, layer name: feature, ...}`` of the teacher.
        """
        gradient = _taps.uses_input_gradient(self.all_terms)
        return _taps.run(self.teacher_taps, self.teacher_batch(x), y, False, gradient)

    def read_batch(self, data, training):
        """`TermTrainer.read_batch`, with sample indices and a teacher cache split off."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, index = split_sample_index(x)
        y, cached, prints = split_cached(y)
        if training:
            needing = [t.name for t in self._sample_index_terms()]
            if needing and index is None:
                require_sample_index(None, None, needing, batch=True)
            if cached is not None and not self.teacher_cacheable:
                raise ValueError(
                    f"`x` must be the training data itself, not a teacher cache: "
                    f"{type(self).__name__} shows the teacher a new view of every batch, so "
                    "outputs cached on the original inputs do not apply. Received: a dataset "
                    "made by keras_kd.cache.cache_teacher_outputs"
                )
        batch = super().read_batch((x, y, sample_weight), training)
        extras = {"index": index, "cached": cached, "prints": prints}
        return batch._replace(extras=extras)

    def training_view(self, batch):
        """The batch both networks see in a training step (the batch itself here).

        A method that shows the networks another view of it (`FunctionMatching`:
        random crops, flips and mixup) overrides this. The view is drawn once
        per step and fed to the teacher (through `teacher_input`) and to the
        student; the compiled metrics still take the batch's own labels.

        Args:
            batch: the `keras_kd.distillers._trainer.Batch` read from the data.

        Returns:
            A `Batch`: the view's inputs, the labels and sample weights the
            terms take, and the step-guard checks (the batch's and the view's).
        """
        return batch

    def _with_index(self, out, batch):
        index = batch.extras.get("index")
        return out if index is None else {**out, SAMPLE_INDEX_KEY: index}

    def _run(self, network, x, y, training):
        terms = self._active_terms(self.stage)
        taps = self._stage_taps[self.stage][network]
        return _taps.run(taps, x, y, training, _taps.uses_input_gradient(terms))

    def teacher_outputs(self, view):
        cached = view.extras.get("cached")
        if cached is None:
            cached = self._run("teacher", self.teacher_batch(view.x), view.y, False)
        return {"teacher": self._with_index(cached, view)}

    def forward(self, view, training):
        return {"student": self._with_index(self._run("student", view.x, view.y, training), view)}

    def compute_terms(self, outputs, view):
        teacher, student = outputs["teacher"], outputs["student"]
        y, weight = self.logit_labels(view.y), self.logit_labels(view.sample_weight)
        if OUTPUT_KEY in student:
            weight = position_weights(student[OUTPUT_KEY], weight)
        terms = {}
        for t in self._active_terms(self.stage):
            if t.uses_all_outputs:
                terms[t.name] = t(teacher, student, view.y, view.sample_weight)
            else:
                terms[t.name] = t(teacher, student, y, weight)
        return terms

    def reads_class_labels(self):
        return any(
            t.uses_class_labels or t.uses_input_gradient for t in self._active_terms(self.stage)
        )

    def logit_outputs(self, outputs):
        # In a stage without logits the check is on a zero row (never probabilities).
        return [outputs[n].get(OUTPUT_KEY, tf.zeros([1, 1])) for n in ("teacher", "student")]

    def metric_logits(self, outputs):
        student = outputs["student"]
        return student.get(PREDICTIONS_KEY, student.get(OUTPUT_KEY))

    def step_checks(self, outputs, batch):
        checks = []
        if batch.extras.get("cached") is not None:
            mismatch = mismatch_fraction(batch.x, batch.extras["prints"])
            checks.append((mismatch > 0.0, _faults.CACHE_MISMATCH, tf.stack([mismatch, 0.0])))
        for t in self._active_terms(self.stage):
            checks += t.faults(outputs["teacher"], outputs["student"])
        return checks

    def after_update(self, applied):
        for t in self._active_terms(self.stage):
            t.update_state(applied)

    def evaluation_outputs(self, batch):
        if self.logits_output is None:
            return {"student": {OUTPUT_KEY: self.deployable(batch.x, training=False)}}
        student = self.student_taps(batch.x, training=False)
        return {"student": {k: student[k] for k in (OUTPUT_KEY, PREDICTIONS_KEY)}}

    def evaluation_terms(self, outputs, batch):
        predictions = self.metric_logits(outputs)
        task = self.task_loss(batch.y, predictions, batch.sample_weight)
        return {"task": task}, task


def _check_logit_standardization(distiller, arguments):
    """Refuses ``logit_standardization=True`` that no weighted term reads (every
    weight 0 is refused for all trainers, `TermTrainer.declare_terms`)."""
    standardized = [t for t in distiller.all_terms if getattr(t, "logit_standardization", False)]
    if arguments["logit_standardization"] and not any(t.weight > 0 for t in standardized):
        weights = ", ".join(f"{k}={v!r}" for k, v in arguments.items() if k.endswith("_weight"))
        raise ValueError(
            "`logit_standardization=True` z-scores the logits of the KD term (and of DKD's), "
            f"and no such term is weighted here: {type(distiller).__name__}'s own terms do not "
            "read it. Give `kd_weight` > 0 to add a standardized KD term, or leave "
            f"`logit_standardization` False. Received: logit_standardization=True, {weights}"
        )
