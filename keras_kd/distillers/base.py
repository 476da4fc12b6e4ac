"""The Distiller template: one `train_step` that every offline method shares."""

import inspect
import os

import keras
import tensorflow as tf

from keras_kd._checks import non_negative_float, non_negative_int, one_of
from keras_kd.data.indexed import SAMPLE_INDEX_KEY, split_sample_index
from keras_kd.distillers import _guard
from keras_kd.distillers._cached import mismatch_fraction, split_cached
from keras_kd.distillers._model_checks import check_distinct, check_logits_model, check_trainable
from keras_kd.distillers._terms import INIT, MAIN, KDTerm, TaskTerm
from keras_kd.distillers._trainer import (
    TermTrainer,
    deserialize_models,
    refuse_renamed,
    renamed_arguments,
)
from keras_kd.features import OUTPUT_KEY, build_feature_extractor, model_input, require_functional
from keras_kd.labels import task_loss_per_sample

INPUT_GRADIENT_KEY = "input_gradient"
_SHARED = ("temperature", "logit_standardization")
_KERAS_ARGUMENTS = ("name", "dtype", "trainable")


def serialize_layer_argument(name, value):
    """The saved form of an argument that may be a Keras layer or a Python
    function; a function is refused (Keras's safe mode would not load it)."""
    if not isinstance(value, keras.layers.Layer):
        raise ValueError(
            f"A distiller whose `{name}` is a Python function cannot be saved (Keras's safe "
            "mode would refuse to load it); pass a Keras layer, or save `distiller.student` "
            f"only. Received: {name}={value!r}"
        )
    return keras.saving.serialize_keras_object(value)


def method_arguments(frame_locals):
    """A method constructor's arguments, from its ``locals()``, for `Distiller.__init__`.

    The signature is the one declaration of a method's arguments: its
    ``__init__`` ends with ``super().__init__(**method_arguments(locals()))``,
    and the template routes each argument to `Distiller`'s own parameters or to
    the subclass's `Distiller.method_terms`, stores it as an attribute and
    saves it in `get_config`.

    Args:
        frame_locals: the constructor's ``locals()`` (``self``, ``__class__``
            and the ``kwargs`` dict itself are dropped; its items are merged in).

    Returns:
        A dict of keyword arguments for `Distiller.__init__`.

    Example:
        ```python
        class MyMethod(Distiller):
            def __init__(self, student, teacher, student_layers, teacher_layers,
                         feature_weight=1.0, task_weight=1.0, kd_weight=0.0,
                         temperature=4.0, **kwargs):
                super().__init__(**method_arguments(locals()))

            def method_terms(self, student_layers, teacher_layers, feature_weight):
                return [MyTerm(feature_weight, student_layers, teacher_layers)]
        ```
    """
    arguments = {k: v for k, v in frame_locals.items() if k not in ("self", "__class__", "kwargs")}
    return {**arguments, **frame_locals.get("kwargs", {})}


def _input_gradient(taps, x, y, training):
    """Runs ``taps`` under a tape; adds d(sum of per-sample CE)/dx to its outputs."""
    x = tf.cast(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = taps(x, training=training)
        ce = tf.reduce_sum(task_loss_per_sample(y, out[OUTPUT_KEY]))
    return {**out, INPUT_GRADIENT_KEY: tape.gradient(ce, x)}


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
    subclass whose ``__init__`` lists its arguments and calls
    ``super().__init__(**method_arguments(locals()))``, and whose
    `method_terms` turns its own arguments into `Term` objects.

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
        check_finite: skip and report a step whose term or gradient is NaN/inf.
        **method_args: a subclass's own arguments, passed on by
            `method_arguments` (e.g. ``student_layers``, ``feature_weight``)
            and handed to its `method_terms`; also Keras's ``name``.

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
        check_finite=True,
        **method_args,
    ):
        keras_kwargs = {k: method_args.pop(k) for k in _KERAS_ARGUMENTS if k in method_args}
        self._refuse_old_arguments(method_args)
        if "feature_weight" in method_args:
            non_negative_float("feature_weight", method_args["feature_weight"])
        self.extra_terms = list(terms or [])
        shared = {"temperature": temperature, "logit_standardization": logit_standardization}
        own = self._method_terms(method_args, shared)
        kd = KDTerm(kd_weight, temperature, logit_standardization)
        self.all_terms = [TaskTerm(task_weight), kd, *own]
        self.all_terms += self.extra_terms
        names = [term.name for term in self.all_terms]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"Each term must have its own name; {duplicated} appear more than once. "
                f"Received: terms named {names}"
            )
        super().__init__(check_finite=check_finite, terms=names, **keras_kwargs)
        self.arguments = {
            "task_weight": task_weight,
            "kd_weight": kd_weight,
            "temperature": temperature,
            "logit_standardization": bool(logit_standardization),
            "init_epochs": non_negative_int("init_epochs", init_epochs),
            **method_args,
        }
        for key, value in self.arguments.items():
            setattr(self, key, value)
        self.student, self.teacher, self.teacher_input = student, teacher, teacher_input
        self._check_models()
        layers = self._layers_by_network(self.all_terms)
        self.student_taps = build_feature_extractor(
            student, layers["student"], argument="student_layers"
        )
        self.teacher_taps = build_feature_extractor(
            teacher, layers["teacher"], argument="teacher_layers"
        )
        for term in self.all_terms:
            term.build(self.feature_shape)
        self.adapters = [a for term in self.all_terms for a in term.adapters]
        self.term_states = [layer for term in self.all_terms for layer in term.state_layers]
        self.stages = (INIT, MAIN) if self._active_terms(INIT) else (MAIN,)
        self.stage = MAIN
        self._stage_taps = {stage: self._build_stage_taps(stage) for stage in self.stages}
        self.init_epochs_done = keras.Variable(
            0, dtype="int32", trainable=False, name="init_epochs_done"
        )
        self.main_epochs_done = keras.Variable(
            0, dtype="int32", trainable=False, name="main_epochs_done"
        )
        for term in self.all_terms:
            term.bind(self)

    def _refuse_old_arguments(self, method_args):
        refuse_renamed(type(self), method_args)
        signature = [k for k in inspect.signature(self.method_terms).parameters if k not in _SHARED]
        unknown = [k for k in method_args if k not in signature]
        if not unknown:
            return
        raise TypeError(
            f"{type(self).__name__} got unexpected arguments {unknown}. Accepted: "
            "student, teacher, terms, task_weight, kd_weight, temperature, "
            "logit_standardization, init_epochs, "
            f"teacher_input, check_finite{''.join(', ' + k for k in signature)}. "
            f"Received: {', '.join(f'{k}={method_args[k]!r}' for k in unknown)}"
        )

    def _method_terms(self, method_args, shared):
        """Calls `method_terms` with the method's own arguments and any shared
        ones (``temperature``, ``logit_standardization``) it names."""
        names = inspect.signature(self.method_terms).parameters
        return list(self.method_terms(**{k: method_args.get(k, shared.get(k)) for k in names}))

    def method_terms(self):
        """The method's own terms, from its own constructor arguments.

        A subclass declares the arguments it needs by name in its signature (any
        of its ``__init__`` arguments, plus ``temperature`` and
        ``logit_standardization`` when it uses them); the template calls it once.

        Returns:
            A list of `Term` objects (empty for the base class).
        """
        return []

    def _check_models(self):
        require_functional(self.student, "student")
        require_functional(self.teacher, "teacher")
        check_logits_model(self.student, "student")
        check_logits_model(self.teacher, "teacher")
        check_distinct([self.student, self.teacher], ["student", "teacher"])
        check_trainable(self.student, "student")
        s_out = tuple(self.student.outputs[0].shape[1:])
        t_out = tuple(self.teacher.outputs[0].shape[1:])
        if s_out != t_out:
            raise ValueError(
                "`student` and `teacher` must output the same number of classes. "
                f"Received: student output {s_out}, teacher output {t_out}"
            )
        if self.teacher_input is not None:
            self._check_teacher_input()
            return
        s_in = [tuple(t.shape[1:]) for t in self.student.inputs]
        t_in = [tuple(t.shape[1:]) for t in self.teacher.inputs]
        if s_in != t_in:
            s_in, t_in = (v[0] if len(v) == 1 else v for v in (s_in, t_in))
            raise ValueError(
                "`student` and `teacher` must take inputs of the same shape, or "
                "`teacher_input` must map the student's batch to the teacher's input (e.g. "
                f"keras.layers.Resizing). Received: student input {s_in}, teacher input {t_in}"
            )

    def _check_teacher_input(self):
        """`teacher_input` must map a student batch to the teacher's input shape."""
        if not callable(self.teacher_input):
            raise ValueError(
                "`teacher_input` must be a Keras layer or a function applied to each "
                f"batch before the teacher. Received: teacher_input={self.teacher_input!r}"
            )
        if len(self.student.inputs) != 1 or len(self.teacher.inputs) != 1:
            return
        s_in = tuple(self.student.inputs[0].shape[1:])
        t_in = tuple(self.teacher.inputs[0].shape[1:])
        if None in s_in:
            return
        probe = tf.zeros((1, *s_in), dtype=self.student.inputs[0].dtype)
        try:
            mapped = tuple(self.teacher_input(probe).shape[1:])
        except Exception as err:  # the user's function failed on a batch of the student's shape
            raise ValueError(
                "`teacher_input` must accept a batch of the student's inputs "
                f"{s_in}; calling it on one failed: {type(err).__name__}: {err}. Received: "
                f"teacher_input={self.teacher_input!r}"
            ) from None
        if any(t is not None and m != t for m, t in zip(mapped, t_in, strict=False)) or len(
            mapped
        ) != len(t_in):
            raise ValueError(
                f"`teacher_input` must map the student's inputs {s_in} to the teacher's input "
                f"shape {t_in}. Received: teacher_input={self.teacher_input!r}, which gives "
                f"{mapped}"
            )

    @staticmethod
    def _layers_by_network(terms):
        layers = {"student": [], "teacher": []}
        for term in terms:
            for network, names in (
                ("student", term.student_layers),
                ("teacher", term.teacher_layers),
            ):
                layers[network] += [n for n in names if n not in layers[network]]
        return layers

    def _active_terms(self, stage):
        return [t for t in self.all_terms if stage in t.stages and t.weight > 0]

    def _build_stage_taps(self, stage):
        """Per network, the extractor a stage needs: the whole network when a
        term uses logits, else only the part up to its taps (or nothing)."""
        terms = self._active_terms(stage)
        logits = any(t.uses_logits for t in terms)
        layers = self._layers_by_network(terms)
        taps = {}
        for network, full in (("student", self.student_taps), ("teacher", self.teacher_taps)):
            names = layers[network]
            if logits:
                taps[network] = full
            elif names:
                taps[network] = keras.Model(
                    model_input(full),
                    {n: full.output[n] for n in names},
                    name=f"{full.name}_{stage}",
                )
            else:
                taps[network] = None
        return taps

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

    def call(self, inputs, training=False):
        return self.deployable(inputs, training=training)

    def set_stage(self, stage):
        """Switches the training stage; the next `fit` retraces `train_step`.

        Args:
            stage: ``"init"`` or ``"main"`` (one of `stages`).

        Example:
            ```python
            fsp.set_stage("init")
            fsp.fit(train, epochs=5)  # the init stage only
            fsp.set_stage("main")
            ```
        """
        self.stage = one_of("stage", stage, self.stages)
        self.train_function = self.test_function = self.predict_function = None

    def fit(self, *args, **kwargs):
        """`keras.Model.fit` on the current stage (the main one unless set).

        In the main stage, when the method has an init stage that has not run
        its ``init_epochs`` yet, those epochs run first (once per distiller:
        `init_epochs_done` counts them and is saved with the distiller).
        """
        counter = self.init_epochs_done if self.stage == INIT else self.main_epochs_done
        # First, so that checkpoints written at the epoch's end hold the new count.
        callbacks = [_CountEpochs(counter), *(kwargs.get("callbacks") or [])]
        if self.stage == MAIN and INIT in self.stages and not _resuming(callbacks):
            remaining = self.init_epochs - int(self.init_epochs_done.numpy())
            if remaining > 0:
                self._run_init_stage(remaining, args, kwargs)
        return super().fit(*args, **{**kwargs, "callbacks": callbacks})

    def _run_init_stage(self, epochs, args, kwargs):
        init_kwargs = {
            k: v
            for k, v in kwargs.items()
            if k not in ("epochs", "initial_epoch", "validation_data", "validation_split")
        }
        init_kwargs["callbacks"] = [
            c
            for c in kwargs.get("callbacks") or []
            if not isinstance(c, keras.callbacks.BackupAndRestore | keras.callbacks.ModelCheckpoint)
        ]
        if kwargs.get("verbose", "auto") != 0:
            print(f"keras_kd: init stage of {type(self).__name__}, {epochs} epoch(s), then fit")
        self.set_stage(INIT)
        try:
            self.fit(*args, epochs=epochs, **init_kwargs)
        finally:
            self.set_stage(MAIN)

    def fit_stages(self, stages, optimizer=None, **fit_kwargs):
        """Runs stages in turn through `fit`, with no automatic init stage.

        Args:
            stages: ``[(stage, epochs), ...]`` in order, e.g.
                ``[("init", 5), ("main", 30)]``.
            optimizer: optional callable ``(stage, epochs) -> optimizer``; each
                stage is then compiled afresh with it (keeping the compiled
                metrics). Without it, the compiled optimizer carries over.
            **fit_kwargs: passed to every `fit` call (data, callbacks, ...).

        Returns:
            ``{stage: History}``.

        Example:
            ```python
            histories = fitnet.fit_stages(
                [("init", 5), ("main", 30)],
                optimizer=lambda stage, epochs: keras.optimizers.SGD(0.05, momentum=0.9),
                x=train,
                validation_data=val,
            )
            ```
        """
        histories = {}
        for stage, epochs in stages:
            self.set_stage(stage)
            if optimizer is not None:
                self.compile(optimizer=optimizer(stage, epochs), metrics=self._compiled_metrics)
            counter = self.init_epochs_done if stage == INIT else self.main_epochs_done
            callbacks = [_CountEpochs(counter), *(fit_kwargs.get("callbacks") or [])]
            # TermTrainer.fit: no automatic init stage here.
            histories[stage] = super().fit(epochs=epochs, **{**fit_kwargs, "callbacks": callbacks})
        self.set_stage(MAIN)
        return histories

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
        if any(t.uses_input_gradient for t in self.all_terms if t.weight > 0):
            return _input_gradient(self.teacher_taps, self.teacher_batch(x), y, False)
        return self.teacher_taps(self.teacher_batch(x), training=False)

    def _forward(self, network, x, y, training):
        taps = self._stage_taps[self.stage][network]
        if taps is None:
            return {}
        if any(t.uses_input_gradient for t in self._active_terms(self.stage)):
            return _input_gradient(taps, x, y, training)
        return taps(x, training=training)

    def _take_sample_index(self, data):
        """``(data without sample indices, indices or None)``; refuses a batch
        without indices when an active term needs them."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, index = split_sample_index(x)
        needing = [t.name for t in self._active_terms(self.stage) if t.uses_sample_index]
        if needing and index is None:
            raise ValueError(
                f"The {needing} term(s) keep a memory row per training sample, so each batch "
                "must carry the samples' indices in the training set: pass "
                "`keras_kd.data.with_sample_index(dataset)` (before shuffling and batching) "
                "or x={'x': inputs, 'sample_index': np.arange(len(inputs))}. Received: "
                "batches without 'sample_index'"
            )
        return (x, y, sample_weight), index

    def training_view(self, x, y, sample_weight):
        """The batch that both networks see in a training step, and its labels.

        The base class trains on the batch as it comes; a method that shows
        the networks another view of it (`FunctionMatching`: random crops,
        flips and mixup) overrides this. The view is drawn once per step and
        fed to the teacher (through `teacher_input`) and to the student.

        Args:
            x: the batch of inputs.
            y: its labels.
            sample_weight: its sample weights, or None.

        Returns:
            ``(view, labels, sample_weight, checks)``: the inputs both networks
            take, the labels and sample weights the loss terms take, and a list
            of ``(fault, code, detail)`` step-guard checks on the view.
        """
        return x, y, sample_weight, []

    def train_step(self, data):
        data, index = self._take_sample_index(data)
        x, y, sample_weight, input_checks = self.unpack(data)
        y, cached, prints = split_cached(y)
        if cached is not None and not self.teacher_cacheable:
            raise ValueError(
                f"`x` must be the training data itself, not a teacher cache: "
                f"{type(self).__name__} shows the teacher a new view of every batch, so "
                "outputs cached on the original inputs do not apply. Received: a dataset "
                "made by keras_kd.cache.cache_teacher_outputs"
            )
        view, term_y, term_weight, view_checks = self.training_view(x, y, sample_weight)
        snapshot = self.guard.snapshot(self.trained_models())
        if cached is not None:
            teacher_out = cached
        else:
            teacher_out = self._forward("teacher", self.teacher_batch(view), term_y, False)
        active = self._active_terms(self.stage)
        if index is not None:
            teacher_out = {**teacher_out, SAMPLE_INDEX_KEY: index}
        with tf.GradientTape() as tape:
            student_out = self._forward("student", view, term_y, True)
            if index is not None:
                student_out = {**student_out, SAMPLE_INDEX_KEY: index}
            terms = {t.name: t(teacher_out, student_out, term_y, term_weight) for t in active}
            total = self.weighted_total(terms)
        logits = student_out.get(OUTPUT_KEY)
        outputs = [("teacher", teacher_out), ("student", student_out)]
        checks = (
            input_checks
            + view_checks
            + self.batch_checks(
                y, [(name, out[OUTPUT_KEY]) for name, out in outputs if OUTPUT_KEY in out]
            )
        )
        if cached is not None:
            mismatch = mismatch_fraction(x, prints)
            checks.append((mismatch > 0.0, _guard.CACHE_MISMATCH, tf.stack([mismatch, 0.0])))
        for t in active:
            checks += t.faults(teacher_out, student_out)
        self.guarded_update(tape, terms, total, snapshot, checks)
        applied = tf.equal(self.guard.code, _guard.OK)  # this step's update was applied
        for t in active:
            t.update_state(applied)
        return self.report(terms, total, view, y, logits, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        data = (split_sample_index(x)[0], y, sample_weight)
        x, y, sample_weight, input_checks = self.unpack(data)
        y = split_cached(y)[0]
        logits = self.deployable(x, training=False)
        task = self.task_loss(y, logits, sample_weight)
        self.guarded_evaluation({"task": task}, input_checks + self.batch_checks(y, []))
        return self.report({"task": task}, task, x, y, logits, sample_weight)

    def get_config(self):
        config = {**super().get_config(), **self.arguments}
        config["student"] = keras.saving.serialize_keras_object(self.student)
        config["teacher"] = keras.saving.serialize_keras_object(self.teacher)
        config["terms"] = [keras.saving.serialize_keras_object(t) for t in self.extra_terms]
        if self.teacher_input is not None:
            config["teacher_input"] = serialize_layer_argument("teacher_input", self.teacher_input)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        renamed = renamed_arguments(cls)
        old = sorted(k for k in config if k in renamed)
        if old:
            raise ValueError(
                f"This {cls.__name__} was saved by keras_kd 0.1, whose arguments were renamed "
                f"in 0.2 ({'; '.join(f'{k} -> {renamed[k]}' for k in old)}). Rebuild the "
                "distiller with the new names and load its weights, or load the saved "
                f"student alone. Received: a config with {old}"
            )
        config["terms"] = [
            keras.saving.deserialize_keras_object(t) for t in config.get("terms") or []
        ]
        return cls(**deserialize_models(config, ("student", "teacher", "teacher_input")))


def _resuming(callbacks):
    """True when a `BackupAndRestore` holds a backup of the main stage (the
    init stage runs without it, so its backup is made after init), which
    restores ``init_epochs_done`` with the weights."""
    return any(
        isinstance(c, keras.callbacks.BackupAndRestore)
        and os.path.exists(getattr(c, "_weights_path", ""))
        for c in callbacks
    )


class _CountEpochs(keras.callbacks.Callback):
    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_end(self, epoch, logs=None):
        self.counter.assign_add(1)
