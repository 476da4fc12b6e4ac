"""The benchmark's protocols: architectures, splits, epochs and optimizer.

``cpu`` is what runs on 2 CPU cores: teacher ResNet-20, student the MLPerf
Tiny ResNet-8, 10 epochs, batch 128, SGD (Nesterov 0.9) lr 0.1 cosine to 0,
weight decay 5e-4 in PyTorch's form (an L2 term of 2.5e-4 on the convolution
kernels, through the momentum), no augmentation except in the
``student_alone_augmented`` row, validation on the shared split's last 5,000.
Found by ``benchmarks/protocol_search.py`` (records in
``benchmarks/results/protocol-search/``): the student alone reached 73.88%
with decoupled decay at lr 0.05 (keras_kd 0.1's protocol), 74.94% with the L2
form, 77.34% with the L2 form at lr 0.1.

``cifar100`` is RepDistiller's CIFAR-100 protocol (REFERENCES.md) for people
with the data (``--data tfds:cifar100``) and a GPU: teacher ResNet-56, student
ResNet-20, 240 epochs, batch 64, SGD momentum 0.9 lr 0.05 divided by 10 at
epochs 150, 180 and 210, weight decay 5e-4 in PyTorch's form (an L2 term
through the momentum; here on the convolution kernels, which hold nearly all
the weights), crop + flip on every row, a 30-epoch
initialization stage for FT, AB and FSP, accuracy on the test split. Its
rows are RepDistiller's methods plus DML, ONE and BYOT; Born-Again (2
generations of a ResNet-56) is left to the ``cpu`` protocol, and so is
``ensemble_kd``: its second teacher is the ``resnet20_alone`` row, which this
protocol drops (ResNet-20 is its student: ``student_alone`` is that row).
"""

import dataclasses

import keras

from keras_kd import models, recipes
from keras_kd_cli.bench.rows import ALL_ROWS


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One benchmark recipe.

    Attributes:
        name: the protocol's name, kept in each record.
        teacher: teacher architecture (a `keras_kd.models.BUILDERS` name).
        student: student architecture.
        num_classes: classes of the data.
        epochs: epochs of every student row.
        batch_size: batch size of every row.
        learning_rate: initial learning rate of every row.
        decay_epochs: epochs at which the rate is divided by 10; empty means
            cosine decay to 0 over the run.
        kernel_l2: L2 coefficient on the convolution kernels (PyTorch-style
            weight decay w: ``kernel_l2 = w / 2``); 0 means decoupled decay in
            the optimizer.
        augment: crop + flip in every row.
        init_epochs: epochs of the two-stage methods' initialization stage;
            None means ``max(1, epochs // 8)``.
        validation_split: the split accuracy is measured on.
        teacher_epochs: epochs when the runner trains the teacher.
        teacher_learning_rate: its initial learning rate.
        excluded_rows: rows this protocol does not run.
    """

    name: str
    teacher: str
    student: str
    num_classes: int
    epochs: int
    batch_size: int
    learning_rate: float
    decay_epochs: tuple = ()
    kernel_l2: float = 0.0
    augment: bool = False
    init_epochs: int | None = None
    validation_split: str = "validation"
    teacher_epochs: int = 12
    teacher_learning_rate: float = 0.1
    excluded_rows: tuple = ()

    @property
    def rows(self):
        """The benchmark rows this protocol runs, in order."""
        return [row for row in ALL_ROWS if row not in self.excluded_rows]

    def build_student(self):
        return self._build(self.student)

    def build_teacher(self):
        return self._build(self.teacher)

    def _build(self, name):
        decay = {"weight_decay": self.kernel_l2} if self.kernel_l2 else {}
        return models.BUILDERS[name](num_classes=self.num_classes, **decay)

    def init_stage_epochs(self, epochs):
        return self.init_epochs if self.init_epochs is not None else max(1, epochs // 8)

    def optimizer(self, learning_rate, epochs, steps_per_epoch):
        """The row optimizer: cosine or step decay; decoupled weight decay
        unless the models carry an L2 term (``kernel_l2``)."""
        if not self.decay_epochs:
            decay = None if self.kernel_l2 else recipes.WEIGHT_DECAY
            return recipes.cifar_sgd(learning_rate, epochs * steps_per_epoch, weight_decay=decay)
        # PiecewiseConstantDecay keeps the old rate at a boundary step itself;
        # epoch e's first step (0-based count e * steps) gets the new rate.
        boundaries = [e * steps_per_epoch - 1 for e in self.decay_epochs]
        values = [learning_rate * 0.1**i for i in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
        return keras.optimizers.SGD(schedule, momentum=recipes.MOMENTUM)


PROTOCOLS = {
    "cpu": Protocol(
        name="cpu",
        teacher="resnet20",
        student="mlperf_tiny_resnet8",
        num_classes=10,
        epochs=10,
        batch_size=128,
        learning_rate=0.1,
        kernel_l2=2.5e-4,
    ),
    "cifar100": Protocol(
        name="cifar100",
        teacher="resnet56",
        student="resnet20",
        num_classes=100,
        epochs=240,
        batch_size=64,
        learning_rate=0.05,
        decay_epochs=(150, 180, 210),
        kernel_l2=2.5e-4,
        augment=True,
        init_epochs=30,
        validation_split="test",
        teacher_epochs=240,
        teacher_learning_rate=0.05,
        # Every row augments here: the *_augmented rows would repeat their plain ones.
        excluded_rows=(
            "student_alone_augmented",
            "kd_augmented",
            "resnet20_alone",
            "born_again",
            "ensemble_kd",
        ),
    ),
}
