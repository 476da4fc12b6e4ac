"""Resuming after interruption, determinism and mixed precision."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_kd import distillers
from tests.distillers.test_methods import INIT_METHODS, METHODS, StageLog, make
from tests.helpers import (
    assert_same,
    changed,
    snapshot,
    snapshot_without_random_state,
    tiny_cnn,
    tiny_data,
    tiny_pair,
)


def online(name):
    keras.utils.set_random_seed(0)
    if name == "dml":
        trainer = distillers.DeepMutualLearning(peers=[tiny_cnn("a"), tiny_cnn("b")])
    elif name == "one":
        trainer = distillers.ONE(tiny_cnn("n"), cut_layer="block1", branches=2)
    else:
        trainer = distillers.BYOT(tiny_cnn("n"), exit_layers=["block1"], deep_layer="block2")
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return trainer


def build(name):
    if name in ("dml", "one", "byot"):
        return online(name)
    trainer, stages = make(name)
    trainer.set_stage(stages[0][0])
    return trainer


def _resumable(name):
    return name


@pytest.mark.parametrize("name", [_resumable(n) for n in [*sorted(METHODS), "dml", "one", "byot"]])
def test_backup_and_restore_restores_the_whole_trainer(name, tmp_path):
    x, y = tiny_data(16)
    first = build(name)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    first.fit(x, y, epochs=2, batch_size=8, callbacks=[backup], verbose=0)
    second = build(name)
    history = second.fit(
        x,
        y,
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)],
    )
    assert history.epoch == []  # both epochs were already done: nothing reran
    assert_same(snapshot_without_random_state(first), snapshot_without_random_state(second))


@pytest.mark.parametrize("name", INIT_METHODS)
def test_backup_and_restore_after_a_plain_fit_with_an_init_stage(name, tmp_path):
    x, y = tiny_data(16)
    first, _ = make(name)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    first.fit(x, y, epochs=2, batch_size=8, callbacks=[backup], verbose=0)
    assert int(first.init_epochs_done.numpy()) == 1
    second, _ = make(name)
    history = second.fit(
        x,
        y,
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)],
    )
    assert history.epoch == []  # the main stage's epochs were already done
    assert int(second.init_epochs_done.numpy()) == 1
    assert_same(snapshot(first), snapshot(second))


def test_a_resumed_plain_fit_does_not_rerun_a_finished_init_stage(tmp_path):
    x, y = tiny_data(16)
    first, _ = make("ab")
    backup = keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)
    first.fit(x, y, epochs=1, batch_size=8, callbacks=[backup], verbose=0)
    second, _ = make("ab")
    log = StageLog()
    second.fit(
        x,
        y,
        epochs=1,
        batch_size=8,
        verbose=0,
        callbacks=[log, keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)],
    )
    assert [stage for stage, _ in log.runs] == ["main"]


SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import keras, numpy as np
    sys.path.insert(0, {root!r})
    from keras_kd import distillers
    from tests.helpers import tiny_data, tiny_pair

    keras.utils.set_random_seed(0)
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    x, y = tiny_data(64)

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if os.environ.get("KILL") and self.model.optimizer.iterations.numpy() == 10:
                os.kill(os.getpid(), signal.SIGKILL)  # mid-epoch 3 of 4, no cleanup

    backup = keras.callbacks.BackupAndRestore(sys.argv[1])
    callbacks = [backup, Kill()]
    distiller.fit(x, y, epochs=4, batch_size=16, shuffle=False, callbacks=callbacks, verbose=0)
    np.savez(sys.argv[2], *[v.numpy() for v in student.weights])
    """
)


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(root=root))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(backup, out, kill=False):
        extra = {"KILL": "1"} if kill else {}
        return subprocess.run(
            [sys.executable, str(script), str(tmp_path / backup), str(tmp_path / out)],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )

    killed = run("backup", "killed.npz", kill=True)
    assert killed.returncode == -9 and not (tmp_path / "killed.npz").exists()
    assert (tmp_path / "backup").exists()
    resumed = run("backup", "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = run("other-backup", "straight.npz")
    assert straight.returncode == 0, straight.stderr[-2000:]
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "straight.npz") as b:
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_two_seeded_fits_give_identical_weights():
    weights = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        student, teacher = tiny_pair(dropout=0.3)
        distiller = distillers.KD(student=student, teacher=teacher)
        distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
        x, y = tiny_data(32)
        distiller.fit(x, y, epochs=2, batch_size=8, verbose=0)
        weights.append(snapshot(student))
    assert_same(*weights)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_computes_losses_in_float32(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        student, teacher = tiny_pair()
        distiller = distillers.AttentionTransfer(
            student=student, teacher=teacher, student_layers=["block2"], teacher_layers=["block2"]
        )
        distiller.compile(optimizer="adam")
        x, y = tiny_data(16)
        before = snapshot(student)
        logs = distiller.fit(x, y, epochs=1, batch_size=8, verbose=0).history
        assert changed(before, snapshot(student))  # the loss-scaled gradients reached it
        assert student.layers[1].compute_dtype != "float32"
        assert all(np.isfinite(v[-1]) for v in logs.values())
        import tensorflow as tf

        out = distiller.student_taps(x[:4], training=False)
        terms = {t.name: t(out, out, tf.constant(y[:4]), None) for t in distiller.all_terms}
        assert set(terms) == {"task", "kd", "at"}
        assert all(t.dtype == "float32" for t in terms.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")
