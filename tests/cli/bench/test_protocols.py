import dataclasses

import keras
import numpy as np
import pytest

from keras_kd import models
from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.rows import INDEXED_ROWS, ROWS
from keras_kd_cli.bench.runner import run_bench

CIFAR100 = PROTOCOLS["cifar100"]


def test_cifar100_protocol_builds_repdistiller_architectures_with_conv_l2_decay():
    student, teacher = CIFAR100.build_student(), CIFAR100.build_teacher()
    assert student.name == "resnet20" and teacher.name == "resnet56"
    assert student.output.shape[-1] == 100 and teacher.output.shape[-1] == 100
    kernels = [layer.kernel for layer in student.layers if isinstance(layer, keras.layers.Conv2D)]
    expected = sum(2.5e-4 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    student(np.zeros((1, 32, 32, 3), "float32"))
    assert float(sum(student.losses)) == pytest.approx(expected, rel=1e-4)


def test_cifar100_schedule_divides_by_ten_at_150_180_210():
    steps = 782  # 50,000 images, batch 64
    optimizer = CIFAR100.optimizer(0.05, 240, steps)
    assert optimizer.weight_decay is None and optimizer.momentum == 0.9
    for step, rate in [
        (0, 0.05),
        (150 * steps - 1, 0.05),
        (150 * steps, 0.005),
        (180 * steps, 5e-4),
        (210 * steps, 5e-5),
    ]:
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == pytest.approx(rate), step
    assert CIFAR100.init_stage_epochs(240) == 30
    assert PROTOCOLS["cpu"].init_stage_epochs(10) == 1


def _build_every_row(teacher, build_student, clear_session):
    for name, (builder, *_rest) in ROWS.items():
        if builder is None or name in CIFAR100.excluded_rows:
            continue
        extra = {"num_samples": 50_000} if name in INDEXED_ROWS else {}
        trainer = builder(teacher, build_student, **extra)
        assert trainer.deployable.output.shape[-1] == 100, name
        if clear_session:  # its gc.collect takes seconds on a test worker's heap
            keras.backend.clear_session()


def test_every_cifar100_row_builds_on_100_class_cifar_resnets():
    # Every CIFAR ResNet names its taps alike; the shallowest pair keeps this fast.
    teacher = models.resnet20(num_classes=100, input_shape=(16, 16, 3))
    build_student = lambda: models.resnet8(num_classes=100, input_shape=(16, 16, 3))  # noqa: E731
    _build_every_row(teacher, build_student, clear_session=False)


@pytest.mark.slow
def test_every_cifar100_row_builds_on_its_architectures():
    _build_every_row(CIFAR100.build_teacher(), CIFAR100.build_student, clear_session=True)


# A ResNet-56 row end to end (about 20 s); the protocol's architectures,
# schedule and rows are checked by the fast tests above.
@pytest.mark.slow
def test_cifar100_protocol_runs_on_tfds_cifar100(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    teacher_path = str(tmp_path / "resnet56.keras")
    CIFAR100.build_teacher().save(teacher_path)
    with tfds.testing.mock_data(num_examples=64):
        record = run_bench(
            "tfds:cifar100",
            str(tmp_path / "out"),
            epochs=1,
            batch_size=32,
            teacher_path=teacher_path,
            rows=["kd"],
            protocol="cifar100",
        )[0]
    assert record["status"] == "ok" and record["protocol"] == "cifar100"
    assert record["int8_check_samples"] == 64  # the mocked test split
    assert record["parameters"] == CIFAR100.build_student().count_params()


def test_cpu_protocol_decays_through_an_l2_term_unless_kernel_l2_is_zero():
    cpu = PROTOCOLS["cpu"]
    assert cpu.learning_rate == 0.1 and cpu.kernel_l2 == 2.5e-4
    assert cpu.optimizer(0.1, 10, 352).weight_decay is None
    student = cpu.build_student()
    student(np.zeros((1, 32, 32, 3), "float32"))
    assert len(student.losses) == sum(isinstance(x, keras.layers.Conv2D) for x in student.layers)
    decoupled = dataclasses.replace(cpu, kernel_l2=0.0)
    assert decoupled.optimizer(0.1, 10, 352).weight_decay == 5e-4
    assert not decoupled.build_student().losses
