"""CRD: contrastive representation distillation, with its memory banks of past embeddings."""

import keras
import tensorflow as tf

from keras_kd._checks import positive_float, positive_int
from keras_kd.data.indexed import SAMPLE_INDEX_KEY
from keras_kd.distillers import _faults
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.layers.contrast_memory import ContrastMemory
from keras_kd.losses.crd import (
    contrast_loss,
    contrast_normalizer,
    contrast_scores,
    memory_update,
    normalize_embedding,
)


def _momentum(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(
            f"`memory_momentum` must be a float in [0, 1). Received: memory_momentum={value!r}"
        )
    return float(value)


def _embedding(shape, feat_dim, name):
    return keras.Sequential(
        [
            keras.Input(tuple(shape[1:])),
            keras.layers.Flatten(name=f"{name}_flatten"),
            keras.layers.Dense(feat_dim, name=f"{name}_dense"),
        ],
        name=name,
    )


@register_term
class CRDTerm(Term):
    """CRD's NCE term on one (student, teacher) pair of penultimate features.

    Trainable linear embeddings map each network's feature (flattened) to
    ``feat_dim`` values, l2-normalized: ``e_s``, ``e_t``. Each sample ``i`` of
    the batch is contrasted with its own memory row (the positive) and
    ``num_negatives`` rows drawn uniformly, with replacement, among the other
    ``num_samples - 1`` rows; the term is `keras_kd.losses.crd_loss`:
    ``contrast_loss(exp(<M_t[idx], e_s>/T) / Z_s) + contrast_loss(exp(<M_s[idx],
    e_t>/T) / Z_t)``. After each applied step the batch's rows are updated,
    ``M[i] <- normalize(m M[i] + (1 - m) e_i)``; a step the guard refuses
    (NaN, bad labels, an index out of range) leaves the memory and the
    constants Z as they were. Sample weights do not apply (the authors have none).

    Negatives: RepDistiller's data loader (``CIFAR100InstanceSample``, mode
    ``"exact"``, the default) takes the positive at the sample's own index and
    draws the K negatives without replacement among the samples of the
    **other classes** (mdistiller does the same); its memory's own sampler,
    used when no indices are given, draws uniformly among all N. keras_kd
    draws uniformly with replacement among all samples but the positive (the
    paper's uniform noise distribution, ``Pn = 1/N``), in the graph: it needs
    no class table, and same-class samples can be negatives.

    The memory is one variable on one device: the term refuses to be built
    under a `tf.distribute` strategy.

    Args:
        weight: the term's weight (0.8 in RepDistiller's CIFAR runs, ``-b 0.8``).
        student_layers: one student feature layer (the penultimate vector, e.g. ``["pool"]``).
        teacher_layers: one teacher feature layer.
        num_samples: N, the number of training samples (rows of each memory bank).
        num_negatives: K negatives per sample (16384 on CIFAR), below ``num_samples``.
        feat_dim: d, the embedding width (128).
        nce_temperature: T of the scores (0.07).
        memory_momentum: m of the memory update (0.5).

    Example:
        ```python
        Distiller(student, teacher, terms=[CRDTerm(0.8, ["pool"], ["pool"], num_samples=5000)])
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR 2020.
    """

    name = "crd"
    pairs_required = (1, 1)
    uses_sample_index = True

    def __init__(
        self,
        weight=0.8,
        student_layers=None,
        teacher_layers=None,
        num_samples=None,
        num_negatives=16384,
        feat_dim=128,
        nce_temperature=0.07,
        memory_momentum=0.5,
    ):
        super().__init__(weight, student_layers, teacher_layers)
        self.num_samples = positive_int("num_samples", num_samples, minimum=2)
        self.num_negatives = positive_int("num_negatives", num_negatives)
        if self.num_negatives >= self.num_samples:
            raise ValueError(
                "`num_negatives` must be smaller than `num_samples`: the K negatives are drawn "
                f"among the other {self.num_samples - 1} training samples. Received: "
                f"num_negatives={num_negatives}, num_samples={num_samples}"
            )
        self.feat_dim = positive_int("feat_dim", feat_dim)
        self.nce_temperature = positive_float("nce_temperature", nce_temperature)
        self.memory_momentum = _momentum(memory_momentum)
        self._pending = None

    def build(self, shapes):
        ((s, t),) = self.pairs
        self.adapters = [
            _embedding(shapes("student", s), self.feat_dim, "crd_student_embedding"),
            _embedding(shapes("teacher", t), self.feat_dim, "crd_teacher_embedding"),
        ]
        self.state_layers = [ContrastMemory(self.num_samples, self.feat_dim)]

    def bind(self, distiller):
        """Refuses a distribution strategy (the memory is not replicated).

        Args:
            distiller: the `Distiller` the term belongs to.

        Raises:
            ValueError: the distiller was created under a `tf.distribute` strategy.
        """
        if tf.distribute.has_strategy():
            strategy = type(tf.distribute.get_strategy()).__name__
            raise ValueError(
                "CRD's memory banks are single-device variables updated row by row each "
                "step; keras_kd does not replicate them across a tf.distribute strategy yet. "
                "Create the CRD distiller outside `strategy.scope()` and train on one "
                f"device. Received: a distiller created under {strategy}"
            )

    @property
    def memory(self):
        """The `ContrastMemory` layer (banks, normalizers, sampler seed)."""
        return self.state_layers[0]

    def _index(self, batch):
        return tf.cast(tf.reshape(batch[SAMPLE_INDEX_KEY], [-1]), tf.int32)

    def faults(self, teacher, student):
        index = self._index(teacher)
        low, high = tf.reduce_min(index), tf.reduce_max(index)
        bad = (low < 0) | (high >= self.num_samples)
        return [(bad, _faults.BAD_SAMPLE_INDEX, tf.cast(tf.stack([low, high]), tf.float32))]

    def contrast_indices(self, index):
        """(batch, K + 1) memory rows: each sample's own, then K others drawn uniformly.

        Args:
            index: (batch,) int32 sample indices in ``[0, num_samples)``.

        Returns:
            An int32 tensor.
        """
        shape = (tf.shape(index)[0], self.num_negatives)
        draws = keras.random.randint(
            shape, 0, self.num_samples - 1, dtype="int32", seed=self.memory.seed_generator
        )
        negatives = draws + tf.cast(draws >= index[:, None], tf.int32)  # skips the positive
        return tf.concat([index[:, None], negatives], axis=1)

    def __call__(self, teacher, student, y, sample_weight):
        ((s, t),) = self.pairs
        # Out-of-range indices refuse the step (`faults`); clipped, it can still run.
        index = tf.clip_by_value(self._index(teacher), 0, self.num_samples - 1)
        e_s = normalize_embedding(self.adapters[0](student[s], training=True))
        e_t = normalize_embedding(self.adapters[1](teacher[t], training=True))
        indices = self.contrast_indices(index)
        memory = self.memory
        sides = ((e_s, memory.teacher_memory), (e_t, memory.student_memory))
        total, normalizers = 0.0, []
        for i, (embedding, bank) in enumerate(sides):
            scores = contrast_scores(embedding, bank.value, indices, self.nce_temperature)
            stored = memory.normalizers.value[i]
            z = tf.where(stored < 0, contrast_normalizer(scores, self.num_samples), stored)
            total += contrast_loss(scores / z, self.num_samples)
            normalizers.append(z)
        self._pending = (index, tf.stop_gradient(e_s), tf.stop_gradient(e_t), normalizers)
        return total

    def update_state(self, applied):
        """Applies the momentum update to the batch's rows and sets Z, when ``applied``.

        Args:
            applied: a boolean scalar tensor (the step's update was applied).
        """
        if self._pending is None:
            return
        index, e_s, e_t, normalizers = self._pending
        self._pending = None
        memory = self.memory
        m = self.memory_momentum
        student_rows = memory_update(tf.gather(memory.student_memory.value, index), e_s, m)
        teacher_rows = memory_update(tf.gather(memory.teacher_memory.value, index), e_t, m)
        memory.commit(index, student_rows, teacher_rows, tf.stack(normalizers), applied)


@keras.saving.register_keras_serializable(package="keras_kd")
class CRD(Distiller):
    """CRD: ``task_weight * CE + feature_weight * crd [+ kd_weight * KD]``.

    The student learns to make its penultimate features identify the same
    sample's teacher features among ``num_negatives`` others, through an NCE
    objective on memory banks of past embeddings (`CRDTerm`). The banks (two
    ``num_samples x feat_dim`` non-trainable variables) and the normalization
    constants are saved and restored with the distiller. Training data must
    carry each sample's index in the training set
    (`keras_kd.data.with_sample_index`); validation data need not.

    The defaults are RepDistiller's CIFAR-100 settings (``train_student.py``:
    ``--distill crd -a 0 -b 0.8``, feat_dim 128, nce_k 16384, nce_t 0.07,
    nce_m 0.5; mdistiller's ``CFG.CRD`` is the same). Where this class differs
    from the authors' code: the negatives (see `CRDTerm`), and Keras's Dense
    initialization of the embeddings. Refused under a `tf.distribute` strategy.

    Cost: each step multiplies the batch's embeddings with both whole banks
    (``2 x batch x N x feat_dim`` multiply-adds, forward and backward), which
    is faster on CPUs than gathering ``batch x K`` rows; on 2 shared CPU cores
    the step of ResNet-20 -> ResNet-8 at batch 128 with N = 45,000 took about
    1.2 to 2.8 times KD's with K = 4096 and 1.8 to 3.2 times with K = 16384
    (``benchmarks/crd_step_time.py``; the benchmark's ``crd`` row uses 4096).

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: one student feature layer (e.g. ``["pool"]``).
        teacher_layers: one teacher feature layer (e.g. ``["pool"]``).
        num_samples: the number of training samples (``len`` of the indexed data).
        num_negatives: K negatives per sample, below ``num_samples``.
        feat_dim: embedding width.
        nce_temperature: T of the contrastive scores.
        memory_momentum: momentum of the memory update.
        feature_weight: the CRD term's weight.
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (RepDistiller's CRD+KD: 1).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        raw = data.load("sample", "train")
        train = data.batch_for_training(data.with_sample_index(raw), batch_size=64)
        crd = CRD(student, teacher, ["pool"], ["pool"], num_samples=5000, num_negatives=4096)
        crd.compile(optimizer="adam", metrics=["accuracy"])
        crd.fit(train, epochs=10)
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR 2020.
    """

    method_term = CRDTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        num_samples,
        num_negatives=16384,
        feat_dim=128,
        nce_temperature=0.07,
        memory_momentum=0.5,
        feature_weight=0.8,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)

    @property
    def memory(self):
        """The `ContrastMemory` layer: ``student_memory``, ``teacher_memory``, ``normalizers``."""
        return self.term_states[0]
