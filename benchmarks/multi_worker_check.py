"""Checks Keras `fit` under tf.distribute.MultiWorkerMirroredStrategy, two local workers.

Run: ``python benchmarks/multi_worker_check.py``

Starts two worker processes on 127.0.0.1 with ``TF_CONFIG`` set (as a cluster
manager would) and, in each, fits (a) a plain Keras model and (b) a keras_kd
KD distiller built inside ``strategy.scope()``. Prints one line per case.

With TensorFlow 2.21 / Keras 3.15 the plain Keras model fails inside Keras's
`fit` with "Attempt to convert a value (PerReplica...)" (upstream
keras-team/keras#20585); the keras_kd distiller trains, because its base class
mends the two cross-worker reductions that fail
(keras_kd/distillers/_multi_worker.py). tests/distillers/test_multi_worker.py
checks that two workers follow the one-device loss trajectory.
"""

import json
import os
import socket
import subprocess
import sys


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch():
    cluster = {"worker": [f"127.0.0.1:{_free_port()}" for _ in range(2)]}
    workers = []
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "3"}
        workers.append(subprocess.Popen([sys.executable, __file__], env=env))
    print("worker exit codes:", [w.wait(timeout=900) for w in workers])


def work():
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_kd import distillers, models

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    chief = json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (256, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 256)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    with strategy.scope():
        plain = models.mlperf_tiny_resnet8()
        plain.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        kd = distillers.KD(student=models.mlperf_tiny_resnet8(), teacher=models.resnet20())
        kd.compile("sgd")
    for name, model in (("plain Keras model", plain), ("keras_kd KD distiller", kd)):
        try:
            model.fit(ds, epochs=1, verbose=0)
            outcome = "fit ran"
        except Exception as err:  # report whatever Keras raises
            outcome = f"fit failed: {type(err).__name__}: {str(err).splitlines()[0][:80]}"
        if chief:
            print(f"{name}: {outcome}", flush=True)


if __name__ == "__main__":
    work() if "TF_CONFIG" in os.environ else launch()
