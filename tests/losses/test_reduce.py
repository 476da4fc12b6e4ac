"""batch_mean: one reduction for samples, pixels and tokens, against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses._reduce import batch_mean

RNG = np.random.default_rng(0)


def test_per_sample_values_keep_keras_sum_over_batch_size():
    values = RNG.random(6).astype("float32")
    weight = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 0.0], "float32")
    assert float(batch_mean(values)) == pytest.approx(values.mean(), rel=1e-6)
    assert float(batch_mean(values, weight)) == pytest.approx((values * weight).sum() / 6, 1e-6)
    assert float(batch_mean(values, weight[:, None])) == pytest.approx(
        (values * weight).sum() / 6, rel=1e-6
    )


def test_per_position_weights_are_a_padding_mask():
    values = RNG.random((3, 5)).astype("float32")
    lengths = np.array([5, 2, 0])
    pad = (np.arange(5)[None] < lengths[:, None]).astype("float32")
    expected = (values * pad).sum() / pad.sum()  # 7 real tokens, not 15
    assert float(batch_mean(values, pad)) == pytest.approx(expected, rel=1e-6)
    assert float(batch_mean(values, pad[..., None])) == pytest.approx(expected, rel=1e-6)
    assert float(batch_mean(values, mask=pad > 0)) == pytest.approx(expected, rel=1e-6)


def test_per_sample_weights_broadcast_over_positions_and_combine_with_a_mask():
    values = RNG.random((4, 3, 2)).astype("float32")
    weight = np.array([2.0, 1.0, 0.0, 1.0], "float32")
    mask = RNG.random((4, 3, 2)) > 0.4
    broadcast = weight[:, None, None] * np.ones_like(values)
    assert float(batch_mean(values, weight)) == pytest.approx(
        (values * broadcast).sum() / values.size, rel=1e-6
    )
    assert float(batch_mean(values, weight, mask)) == pytest.approx(
        (values * broadcast * mask).sum() / mask.sum(), rel=1e-6
    )


def test_per_position_weights_reach_a_per_sample_loss_as_the_real_positions_mean():
    values = np.array([1.0, 2.0, 3.0], "float32")
    weight = np.array([[1.0, 1.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]], "float32")
    assert float(batch_mean(values, weight)) == pytest.approx((1.0 * 1 + 2.0 * 0.5) / 3)


def test_no_real_position_gives_zero_and_a_finite_gradient():
    values = tf.Variable(RNG.random((2, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = batch_mean(values, np.zeros((2, 3), "float32"))
    assert float(loss) == 0.0
    assert np.all(np.isfinite(tape.gradient(loss, values).numpy()))


GLOBAL_COUNT_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
from keras_kd.losses._reduce import batch_mean

values = np.arange(1.0, 21.0, dtype="float32").reshape(4, 5)
mask = np.zeros((4, 5), "float32")
mask[:2] = 1.0  # replica 0: 10 real tokens
mask[2, 0] = 1.0  # replica 1: 1 real token
strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
halves = lambda a: strategy.experimental_distribute_values_from_function(
    lambda ctx: a[2 * ctx.replica_id_in_sync_group : 2 * ctx.replica_id_in_sync_group + 2]
)
# The template divides each replica's total by the replicas and sums them.
per_replica = strategy.run(lambda v, m: batch_mean(v, m) / 2.0, args=(halves(values), halves(mask)))
print(json.dumps(float(strategy.reduce("SUM", per_replica, axis=None))))
"""


@pytest.mark.slow  # a subprocess with two CPU devices
def test_the_count_of_real_positions_is_global_under_a_distribution_strategy(tmp_path):
    """Per-replica normalization would give (sum_0 / 10 + sum_1 / 1) / 2; the
    global mean over the 11 real tokens is what one device computes."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "global_count.py"
    script.write_text(GLOBAL_COUNT_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), root], capture_output=True, text=True, check=True
    )
    values = np.arange(1.0, 21.0).reshape(4, 5)
    real = (values[:2].sum() + values[2, 0]) / 11.0
    assert json.loads(out.stdout.strip().splitlines()[-1]) == pytest.approx(real, rel=1e-6)
    per_replica = (values[:2].sum() / 10 + values[2, 0] / 1) / 2
    assert real != pytest.approx(per_replica, rel=1e-3)
