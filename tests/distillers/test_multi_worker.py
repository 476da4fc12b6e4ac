"""tf.distribute.MultiWorkerMirroredStrategy with two local worker processes on
loopback, against the same fit on one device (keras_kd/distillers/_multi_worker.py)."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import tensorflow as tf
    import keras
    sys.path.insert(0, {root!r})
    from keras_kd import distillers as D
    from tests.helpers import tiny_cnn, tiny_data

    BUILD = {{
        "kd": lambda s, t: D.KD(student=s, teacher=t),
        "at": lambda s, t: D.AttentionTransfer(
            s, t, student_layers=["block1", "block2"], teacher_layers=["block1", "block2"]
        ),
        "dml": lambda s, t: D.DeepMutualLearning(peers=[s, t]),
    }}
    multi_worker = "TF_CONFIG" in os.environ
    if multi_worker:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    x, y = tiny_data(32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    out = {{}}
    for name, build in BUILD.items():
        keras.utils.set_random_seed(0)
        with strategy.scope():
            student = tiny_cnn("student", 4, batch_norm=False)
            teacher = tiny_cnn("teacher", 8, batch_norm=False)
            trainer = build(student, teacher)
            trainer.compile(optimizer=keras.optimizers.SGD(1e-3), metrics=["accuracy"])
        history = trainer.fit(data, epochs=3, verbose=0).history
        evaluation = trainer.evaluate(data, verbose=0, return_dict=True)
        out[name] = {{
            "loss": history["loss"],
            "evaluation": evaluation,
            "weights": [w.numpy().tolist() for w in trainer.deployable.weights],
        }}
    print("RESULT " + json.dumps(out))
    """
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _result(process):
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    line = next(ln for ln in stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


# Two worker processes (about 35 s); the cross-replica step guard and the
# MirroredStrategy match run by default (test_distribution.py).
@pytest.mark.slow
def test_two_local_workers_match_one_device(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT.format(root=root))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    processes = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env={
                **env,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    single = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        workers = [_result(p) for p in processes]
        one = _result(single)
    finally:  # a failed worker can leave its peer waiting on a collective
        for process in [*processes, single]:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for name, expected in one.items():
        for worker in workers:
            got = worker[name]
            np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-4, err_msg=name)
            for key, value in expected["evaluation"].items():
                np.testing.assert_allclose(got["evaluation"][key], value, rtol=1e-4, err_msg=key)
            for a, b in zip(got["weights"], expected["weights"], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-3, err_msg=name)
