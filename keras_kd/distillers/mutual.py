"""Deep Mutual Learning: peers trained together, each learning from the others."""

import keras
import tensorflow as tf

from keras_kd._checks import index_in, non_negative_float, temperature_value
from keras_kd.distillers._model_checks import check_distinct, check_logits_model, check_trainable
from keras_kd.distillers._trainer import TermTrainer
from keras_kd.features import build_feature_extractor
from keras_kd.losses._reduce import position_weights
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class DeepMutualLearning(TermTrainer):
    """Deep Mutual Learning (online distillation, no pre-trained teacher).

    For each peer i of N >= 2 peers trained together from scratch:

    ``L_i = task_weight * CE(y, p_i) + kd_weight * mean_{j != i} KL(p_j || p_i)``

    with the other peers' predictions held constant for peer i (so one
    backward pass of ``sum_i L_i`` gives each peer its own gradient). At a
    temperature T != 1 the KL is taken between softened predictions and
    scaled by ``T^2`` (`kd_loss`). Logs ``peer{i}_task_loss``,
    ``peer{i}_kd_loss`` and ``peer{i}_accuracy``; `evaluate` reports every
    peer. Peers may differ in architecture.

    Args:
        peers: list of >= 2 functional models with the same input and output
            shapes, returning logits.
        temperature: softmax temperature of the mimicry term (1 in the paper).
        task_weight: cross-entropy weight.
        kd_weight: mimicry (KL) weight.
        deploy_index: which peer `student` returns.
        **kwargs: Keras model arguments (``name``) and ``check_finite``
            (skip and report a step whose term or gradient is NaN/inf).

    Attributes:
        peers: the peer models.
        student: the peer ``deploy_index``, a plain Keras model to save and export.

    Example:
        ```python
        dml = DeepMutualLearning([mlperf_tiny_resnet8(), mlperf_tiny_resnet8()])
        dml.compile(optimizer="adam", metrics=["accuracy"])
        dml.fit(train, epochs=10)
        dml.student.save("peer0.keras")
        ```

    Reference:
        Zhang, Xiang, Hospedales, Lu, "Deep Mutual Learning", CVPR 2018.
    """

    def __init__(
        self,
        peers,
        temperature=1.0,
        task_weight=1.0,
        kd_weight=1.0,
        deploy_index=0,
        **kwargs,
    ):
        if not isinstance(peers, list | tuple) or len(peers) < 2:
            raise ValueError(
                f"`peers` must be a list of at least 2 Keras models. Received: peers={peers!r}"
            )
        deploy_index = index_in("deploy_index", deploy_index, len(peers))
        super().__init__(**kwargs)
        self.temperature = temperature_value("temperature", temperature)
        self.task_weight = non_negative_float("task_weight", task_weight)
        self.kd_weight = non_negative_float("kd_weight", kd_weight)
        self.deploy_index = deploy_index
        arguments = [f"peers[{i}]" for i in range(len(peers))]
        for peer, argument in zip(peers, arguments, strict=True):
            build_feature_extractor(peer, [], argument=argument)
            check_logits_model(peer, argument)
            check_trainable(peer, argument)
        check_distinct(list(peers), arguments)
        shapes = [(tuple(p.inputs[0].shape[1:]), tuple(p.outputs[0].shape[1:])) for p in peers]
        if len(set(shapes)) != 1:
            listed = ", ".join(
                f"{p.name}: in {i} out {o}" for p, (i, o) in zip(peers, shapes, strict=True)
            )
            raise ValueError(f"`peers` must share input and output shapes. Received: {listed}")
        self.peers = list(peers)
        terms = [f"peer{i}_{kind}" for i in range(len(peers)) for kind in ("task", "kd")]
        self.declare_terms(terms, outputs=arguments)
        self.track_accuracy([f"peer{i}" for i in range(len(peers))])

    @property
    def student(self):
        """The peer kept for deployment (a plain Keras model)."""
        return self.peers[self.deploy_index]

    deployable = student

    @property
    def loss_weights(self):
        """``{term name: weight}``: ``task_weight`` for task terms, ``kd_weight`` for KLs."""
        return {
            name: self.task_weight if name.endswith("_task") else self.kd_weight
            for name in self.term_names
        }

    def trained_models(self):
        return list(self.peers)

    def forward(self, view, training):
        return {"peers": [peer(view.x, training=training) for peer in self.peers]}

    def compute_terms(self, outputs, view):
        terms, logits = {}, outputs["peers"]
        for i, own in enumerate(logits):
            others = [tf.stop_gradient(z) for j, z in enumerate(logits) if j != i]
            terms[f"peer{i}_task"] = self.task_loss(view.y, own, view.sample_weight)
            weight = position_weights(own, view.sample_weight)
            terms[f"peer{i}_kd"] = tf.add_n(
                [kd_loss(other, own, self.temperature, weight) for other in others]
            ) / len(others)
        return terms

    def evaluation_terms(self, outputs, batch):
        terms = {
            f"peer{i}_task": self.task_loss(batch.y, z, batch.sample_weight)
            for i, z in enumerate(outputs["peers"])
        }
        return terms, terms[f"peer{self.deploy_index}_task"]

    def logit_outputs(self, outputs):
        return outputs["peers"]

    def metric_logits(self, outputs):
        return outputs["peers"][self.deploy_index]

    def extra_logs(self, outputs, batch):
        return self.accuracy_logs(batch.y, outputs["peers"], batch.sample_weight)
