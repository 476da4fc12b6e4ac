"""ONE: on-the-fly native ensemble of branches as the teacher."""

import keras
import tensorflow as tf

from keras_kd._checks import index_in, non_negative_float, positive_int, temperature_value
from keras_kd.distillers._model_checks import (
    check_logits_model,
    check_per_sample_logits,
    check_trainable,
)
from keras_kd.distillers._trainer import TermTrainer
from keras_kd.features import OUTPUT_KEY, build_feature_extractor, model_input
from keras_kd.layers.branches import branch_copy, build_gate, split_at
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class ONE(TermTrainer):
    """Knowledge distillation by On-the-fly Native Ensemble.

    The user's functional model is cut after ``cut_layer``: the layers up to
    it are shared, the rest becomes ``branches`` branches (branch 0 keeps the
    model's own layers, the others are freshly initialized copies), and a gate
    (global pooling + dense + softmax) on the shared features weighs them.
    With branch logits ``z_i`` and ensemble logits ``z_e = sum_i g_i z_i``:

    ``L = task_weight * (sum_i CE(y, z_i) + CE(y, z_e))
          + kd_weight * T^2 * sum_i KL(p(z_e, T) || p(z_i, T))``

    with the ensemble held constant in the KL terms (it is the teacher). At
    deployment one branch is kept: `student` is the shared layers plus branch
    ``deploy_index``, a plain Keras model without the gate or other branches.

    Args:
        model: functional model returning logits.
        cut_layer: name of the last shared layer.
        branches: number of branches m >= 2.
        temperature: T (3 in the paper).
        task_weight: weight of the cross-entropy terms.
        kd_weight: weight of the KL terms.
        deploy_index: the branch `student` keeps.
        **kwargs: Keras model arguments (``name``) and ``check_finite``
            (skip and report a step whose term or gradient is NaN/inf).

    Attributes:
        branches: the number of branches.
        branch_heads: the branch models (shared features in, logits out).
        branch_models: each branch as a plain model from the input.
        student: shared layers + branch ``deploy_index``, the model to export.

    Example:
        ```python
        one = ONE(mlperf_tiny_resnet8(), cut_layer="stage2", branches=3)
        one.compile(optimizer="adam", metrics=["accuracy"])
        one.fit(train, epochs=10)
        one.student.save("student.keras")  # one branch, no gate
        ```

    Reference:
        Lan, Zhu, Gong, "Knowledge Distillation by On-the-Fly Native
        Ensemble", NeurIPS 2018.
    """

    def __init__(
        self,
        model,
        cut_layer,
        branches=3,
        temperature=3.0,
        task_weight=1.0,
        kd_weight=1.0,
        deploy_index=0,
        **kwargs,
    ):
        branches = positive_int("branches", branches, minimum=2)
        deploy_index = index_in("deploy_index", deploy_index, branches)
        super().__init__(**kwargs)
        build_feature_extractor(model, [], argument="model")
        check_logits_model(model, "model")
        check_per_sample_logits(model, "model", "ONE")
        check_trainable(model, "model")
        self.model = model
        self.cut_layer = cut_layer
        self.branches = branches
        self.temperature = temperature_value("temperature", temperature)
        self.task_weight = non_negative_float("task_weight", task_weight)
        self.kd_weight = non_negative_float("kd_weight", kd_weight)
        self.deploy_index = deploy_index
        cut, tail = split_at(model, cut_layer)
        self.branch_heads = [tail] + [branch_copy(tail, i) for i in range(1, branches)]
        self.gate = build_gate(cut.shape, branches, cut_layer=cut_layer)
        self.network = keras.Model(
            model_input(model),
            {OUTPUT_KEY: [b(cut) for b in self.branch_heads], "gate": self.gate(cut)},
            name=f"{model.name}_one",
        )
        self.branch_models = [model] + [
            keras.Model(model_input(model), b(cut), name=f"{model.name}_branch{i}")
            for i, b in enumerate(self.branch_heads[1:], start=1)
        ]
        self.declare_terms(("branch_task", "ensemble_task", "kd"), outputs=["model"] * branches)
        self.track_accuracy([*(f"branch{i}" for i in range(branches)), "ensemble"])

    @property
    def student(self):
        """Shared layers + branch ``deploy_index``: a plain Keras model."""
        return self.branch_models[self.deploy_index]

    deployable = student

    @property
    def loss_weights(self):
        """The weights of the ``branch_task``, ``ensemble_task`` and ``kd`` terms."""
        return {
            "branch_task": self.task_weight,
            "ensemble_task": self.task_weight,
            "kd": self.kd_weight,
        }

    def trained_models(self):
        return [self.network]

    @staticmethod
    def ensemble_logits(logits, gate):
        """The gated ensemble's logits ``z_e = sum_i g_i z_i``.

        Args:
            logits: the m branch logits, each (batch, classes).
            gate: the gate's weights, (batch, m).

        Returns:
            A float32 (batch, classes) tensor.
        """
        return tf.einsum(
            "bm,mbc->bc", tf.cast(gate, tf.float32), tf.cast(tf.stack(logits), tf.float32)
        )

    def forward(self, view, training):
        out = self.network(view.x, training=training)
        logits = out[OUTPUT_KEY]
        return {"branches": logits, "ensemble": self.ensemble_logits(logits, out["gate"])}

    def compute_terms(self, outputs, view):
        y, weight, logits = view.y, view.sample_weight, outputs["branches"]
        teacher = tf.stop_gradient(outputs["ensemble"])
        return {
            "branch_task": tf.add_n([self.task_loss(y, z, weight) for z in logits]),
            "ensemble_task": self.task_loss(y, outputs["ensemble"], weight),
            "kd": tf.add_n([kd_loss(teacher, z, self.temperature, weight) for z in logits]),
        }

    def evaluation_terms(self, outputs, batch):
        logits = self.metric_logits(outputs)
        task = self.task_loss(batch.y, logits, batch.sample_weight)
        return {"branch_task": task}, task

    def logit_outputs(self, outputs):
        return outputs["branches"]

    def metric_logits(self, outputs):
        return outputs["branches"][self.deploy_index]

    def extra_logs(self, outputs, batch):
        logits = [*outputs["branches"], outputs["ensemble"]]
        return self.accuracy_logs(batch.y, logits, batch.sample_weight)
