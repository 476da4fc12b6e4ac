"""BYOT: deep supervision with self-distillation from the deepest classifier."""

import keras
import tensorflow as tf

from keras_kd._checks import layer_name_list, non_negative_float, temperature_value
from keras_kd.distillers._model_checks import (
    check_logits_model,
    check_per_sample_logits,
    check_trainable,
)
from keras_kd.distillers._trainer import TermTrainer
from keras_kd.evaluation import top1_accuracy
from keras_kd.features import OUTPUT_KEY, build_feature_extractor, model_input, tap_layer
from keras_kd.layers.branches import build_bottleneck, build_classifier
from keras_kd.losses.hint import hint_loss
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class BYOT(TermTrainer):
    """Be Your Own Teacher: early exits that learn from the deepest classifier.

    Each named shallow layer gets a bottleneck (1x1 conv to the deepest
    feature's channels, stride-2 convs down to its size) and a classifier.
    With ``z_i``/``F_i`` an exit's logits/bottleneck feature and
    ``z_deep``/``F_deep`` the model's own logits and ``deep_layer`` feature:

    ``L = CE(y, z_deep) + sum_i [ task_weight * CE(y, z_i)
          + kd_weight * T^2 * KL(p(z_deep, T) || p(z_i, T))
          + feature_weight * ||F_i - F_deep||^2 ]``

    (the squared distance as a mean over elements), the deepest logits and
    feature held constant in the distillation terms. The paper writes the
    first two weights as ``1 - alpha`` and ``alpha``. `exits` are plain models
    (input to each exit's logits, shallow to deep, the model itself last);
    `student` is the deepest.

    Args:
        model: functional model returning logits.
        exit_layers: names of the shallow layers that get an exit.
        deep_layer: name of the deepest feature map (e.g. the last stage).
        temperature: T (3 in the authors' code).
        task_weight: CE weight of each shallow exit (1 - alpha = 0.7).
        kd_weight: KD weight of each shallow exit (alpha = 0.3).
        feature_weight: lambda of the feature term (0.03).
        **kwargs: Keras model arguments (``name``) and ``check_finite``
            (skip and report a step whose term or gradient is NaN/inf).

    Attributes:
        exits: one plain Keras model per exit, shallow to deep (the model last).
        student: the deepest exit, the user's model itself.

    Example:
        ```python
        byot = BYOT(mlperf_tiny_resnet8(), exit_layers=["stage1", "stage2"], deep_layer="stage3")
        byot.compile(optimizer="adam", metrics=["accuracy"])
        byot.fit(train, epochs=10)
        for row in byot.exit_summary(val):
            print(row)  # a shallow exit is a smaller, faster model
        ```

    Reference:
        Zhang et al., "Be Your Own Teacher: Improve the Performance of
        Convolutional Neural Networks via Self Distillation", ICCV 2019.
    """

    RENAMED_ARGUMENTS = {"alpha": "task_weight (1 - alpha) and kd_weight (alpha)"}

    def __init__(
        self,
        model,
        exit_layers,
        deep_layer,
        temperature=3.0,
        task_weight=0.7,
        kd_weight=0.3,
        feature_weight=0.03,
        **kwargs,
    ):
        self.exit_layers = layer_name_list("exit_layers", exit_layers)
        if not self.exit_layers:
            raise ValueError("`exit_layers` must name at least one layer. Received: exit_layers=[]")
        terms = ["deep_task"] + [
            f"exit{i}_{kind}"
            for i in range(len(self.exit_layers))
            for kind in ("task", "kd", "feature")
        ]
        super().__init__(**kwargs)
        build_feature_extractor(model, [], argument="model")
        check_logits_model(model, "model")
        check_per_sample_logits(model, "model", "BYOT")
        check_trainable(model, "model")
        self.model = model
        self.deep_layer = deep_layer
        self.temperature = temperature_value("temperature", temperature)
        self.task_weight = non_negative_float("task_weight", task_weight)
        self.kd_weight = non_negative_float("kd_weight", kd_weight)
        self.feature_weight = non_negative_float("feature_weight", feature_weight)
        deep = tap_layer(model, deep_layer, "deep_layer")
        num_classes = model.outputs[0].shape[-1]
        outputs = {OUTPUT_KEY: model.outputs[0], "deep_feature": deep}
        self.exits, self.heads = [], []
        for i, name in enumerate(self.exit_layers):
            feature = tap_layer(model, name, "exit_layers")
            if len(feature.shape) != 4 or len(deep.shape) != 4:
                raise ValueError(
                    "`exit_layers` and `deep_layer` must name 4-D (batch, height, width, "
                    "channels) feature maps: a BYOT exit is a convolutional bottleneck. "
                    f"Received: exit_layers entry {name!r} of shape {tuple(feature.shape)}, "
                    f"deep_layer={deep_layer!r} of shape {tuple(deep.shape)}"
                )
            bottleneck = build_bottleneck(feature.shape, deep.shape, f"exit{i}_bottleneck")
            classifier = build_classifier(deep.shape, num_classes, f"exit{i}_classifier")
            f_i = bottleneck(feature)
            outputs[f"exit{i}_feature"], outputs[f"exit{i}_logits"] = f_i, classifier(f_i)
            self.heads.extend([bottleneck, classifier])
            self.exits.append(
                keras.Model(
                    model_input(model), outputs[f"exit{i}_logits"], name=f"{model.name}_exit{i}"
                )
            )
        self.exits.append(model)
        self.network = keras.Model(model_input(model), outputs, name=f"{model.name}_byot")
        self.declare_terms(terms, outputs=["model"] * len(self.exits))
        self.track_accuracy([f"exit{i}" for i in range(len(self.exits))])

    @property
    def student(self):
        """The deepest exit: the user's model itself."""
        return self.model

    deployable = student

    @property
    def loss_weights(self):
        """``{term name: weight}``: the deep task term 1, each exit's terms their weights."""
        kinds = {"task": self.task_weight, "kd": self.kd_weight, "feature": self.feature_weight}
        return {
            name: 1.0 if name == "deep_task" else kinds[name.split("_")[1]]
            for name in self.term_names
        }

    def trained_models(self):
        return [self.network]

    def _exit_logits(self, out):
        return [out[f"exit{i}_logits"] for i in range(len(self.exit_layers))] + [out[OUTPUT_KEY]]

    def forward(self, view, training):
        return self.network(view.x, training=training)

    def compute_terms(self, outputs, view):
        y, weight = view.y, view.sample_weight
        deep_logits = tf.stop_gradient(outputs[OUTPUT_KEY])
        deep_feature = tf.stop_gradient(outputs["deep_feature"])
        raw = {"deep_task": self.task_loss(y, outputs[OUTPUT_KEY], weight)}
        for i in range(len(self.exit_layers)):
            z_i = outputs[f"exit{i}_logits"]
            raw[f"exit{i}_task"] = self.task_loss(y, z_i, weight)
            raw[f"exit{i}_kd"] = kd_loss(deep_logits, z_i, self.temperature, weight)
            raw[f"exit{i}_feature"] = hint_loss(deep_feature, outputs[f"exit{i}_feature"], weight)
        return raw

    def evaluation_terms(self, outputs, batch):
        task = self.task_loss(batch.y, outputs[OUTPUT_KEY], batch.sample_weight)
        return {"deep_task": task}, task

    def logit_outputs(self, outputs):
        return self._exit_logits(outputs)

    def metric_logits(self, outputs):
        return outputs[OUTPUT_KEY]

    def extra_logs(self, outputs, batch):
        return self.accuracy_logs(batch.y, self._exit_logits(outputs), batch.sample_weight)

    def exit_summary(self, dataset):
        """Parameters and accuracy of each exit, shallow to deep.

        Args:
            dataset: a batched dataset of ``(images, labels)``.

        Returns:
            A list of dicts with the keys ``"exit"``, ``"layer"``, ``"parameters"``
            and ``"accuracy"``, one per exit.
        """
        layers = [*self.exit_layers, "output"]
        return [
            {
                "exit": i,
                "layer": layer,
                "parameters": m.count_params(),
                "accuracy": top1_accuracy(m, dataset),
            }
            for i, (layer, m) in enumerate(zip(layers, self.exits, strict=True))
        ]
