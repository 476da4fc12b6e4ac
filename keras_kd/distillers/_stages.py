"""Training stages: the init stage a method may need before its main one,
and the one resumable stage runner (`fit_stages`) every application uses."""

import os

import keras

from keras_kd._checks import one_of
from keras_kd._io import atomic_path

INIT, MAIN = "init", "main"
_SAVING = (keras.callbacks.BackupAndRestore, keras.callbacks.ModelCheckpoint)


class StagesMixin:
    """`set_stage`, `fit` (the pending init stage first) and `fit_stages`.

    A trainer with an init stage sets ``stages = ("init", "main")``,
    ``init_epochs`` and a `keras.Variable` epoch counter per stage
    (``init_epochs_done``, ``main_epochs_done``, saved with its weights).
    """

    stages = (MAIN,)
    stage = MAIN
    init_epochs = 0

    def epoch_counter(self, stage):
        """The variable counting the epochs run in a stage.

        Args:
            stage: ``"init"`` or ``"main"``.

        Returns:
            A `keras.Variable`, or None when the trainer does not count that stage.
        """
        return getattr(self, f"{stage}_epochs_done", None)

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

    def pending_init_epochs(self):
        """Init-stage epochs still to run before the main stage.

        Returns:
            An int, 0 when the trainer has no init stage or has run it.
        """
        counter = self.epoch_counter(INIT)
        if INIT not in self.stages or counter is None:
            return 0
        return max(self.init_epochs - int(counter.numpy()), 0)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit` on the current stage (the main one unless set).

        In the main stage, when the trainer has an init stage that has not run
        its ``init_epochs`` yet, those epochs run first, without validation or
        saving callbacks (once per trainer: the epoch counter is saved with it).
        """
        remaining = self.pending_init_epochs() if self.stage == MAIN else 0
        if remaining and not _resuming(kwargs.get("callbacks") or []):
            init_kwargs = {
                k: v
                for k, v in kwargs.items()
                if k not in ("epochs", "initial_epoch", "validation_data", "validation_split")
            }
            init_kwargs["callbacks"] = [
                c for c in kwargs.get("callbacks") or [] if not isinstance(c, _SAVING)
            ]
            if kwargs.get("verbose", "auto") != 0:
                print(
                    f"keras_kd: init stage of {type(self).__name__}, {remaining} epoch(s), then fit"
                )
            self.set_stage(INIT)
            try:
                self._fit_counted(*args, epochs=remaining, **init_kwargs)
            finally:
                self.set_stage(MAIN)
        return self._fit_counted(*args, **kwargs)

    def _fit_counted(self, *args, **kwargs):
        counter = self.epoch_counter(self.stage)
        if counter is not None:
            # First, so that checkpoints written at the epoch's end hold the new count.
            kwargs["callbacks"] = [_CountEpochs(counter), *(kwargs.get("callbacks") or [])]
        return self.fit_one_stage(*args, **kwargs)

    def fit_stages(self, stages, optimizer=None, backup_dir=None, **fit_kwargs):
        """Runs stages in turn through `fit`, with no automatic init stage.

        Args:
            stages: ``[(stage, epochs), ...]`` in order, e.g.
                ``[("init", 5), ("main", 30)]``.
            optimizer: optional callable ``(stage, epochs) -> optimizer``; each
                stage is then compiled afresh with it (keeping the compiled
                metrics). Without it, the compiled optimizer carries over.
            backup_dir: optional folder that makes the run resumable: each
                stage fits with a `keras.callbacks.BackupAndRestore` in
                ``backup_dir/STAGE`` (kept when the stage ends), and a finished
                stage before the last is saved as ``backup_dir/STAGE-done.weights.h5``,
                so running the same call again skips what is done. Remove the
                folder once the run's results are saved.
            **fit_kwargs: passed to every `fit` call (data, callbacks, ...).

        Returns:
            ``{stage: History}`` of the stages that ran.

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
            done = os.path.join(backup_dir, f"{stage}-done.weights.h5") if backup_dir else None
            if done and os.path.exists(done):
                self.load_weights(done)
                continue
            self.set_stage(stage)
            if optimizer is not None:
                self.compile(optimizer=optimizer(stage, epochs), metrics=self._compiled_metrics)
            kwargs = {**fit_kwargs, "epochs": epochs}
            if backup_dir:
                backup = keras.callbacks.BackupAndRestore(
                    os.path.join(backup_dir, stage), delete_checkpoint=False
                )
                kwargs["callbacks"] = [*(fit_kwargs.get("callbacks") or []), backup]
            histories[stage] = self._fit_counted(**kwargs)
            if done and (stage, epochs) != tuple(stages[-1]):
                with atomic_path(done, suffix=".weights.h5") as tmp:
                    self.save_weights(tmp)
        self.set_stage(MAIN)
        return histories


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
