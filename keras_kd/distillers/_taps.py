"""What each network of a `Distiller` computes in a stage: its taps."""

import keras
import tensorflow as tf

from keras_kd.features import OUTPUT_KEY, model_input
from keras_kd.labels import task_loss_per_sample

INPUT_GRADIENT_KEY = "input_gradient"
NETWORKS = ("student", "teacher")


def layers_by_network(terms):
    """``{"student": [names], "teacher": [names]}`` the terms tap, each once, in order."""
    layers = {network: [] for network in NETWORKS}
    for term in terms:
        for network, names in (("student", term.student_layers), ("teacher", term.teacher_layers)):
            layers[network] += [n for n in names if n not in layers[network]]
    return layers


def stage_taps(terms, full, stage):
    """Per network, the extractor the ``terms`` of ``stage`` need: the whole
    network (``full[network]``) when a term uses logits, else only the part up
    to its taps, or None."""
    logits = any(t.uses_logits for t in terms)
    layers = layers_by_network(terms)
    taps = {}
    for network in NETWORKS:
        names, model = layers[network], full[network]
        if logits:
            taps[network] = model
        elif names:
            outputs = {n: model.output[n] for n in names}
            taps[network] = keras.Model(model_input(model), outputs, name=f"{model.name}_{stage}")
        else:
            taps[network] = None
    return taps


def uses_input_gradient(terms):
    """True when a weighted term reads the networks' input gradients."""
    return any(t.uses_input_gradient for t in terms if t.weight > 0)


def input_gradient(taps, x, y, training):
    """Runs ``taps`` under a tape; adds d(sum of per-sample CE)/dx to its outputs."""
    x = tf.cast(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = taps(x, training=training)
        ce = tf.reduce_sum(task_loss_per_sample(y, out[OUTPUT_KEY]))
    return {**out, INPUT_GRADIENT_KEY: tape.gradient(ce, x)}


def run(taps, x, y, training, with_input_gradient):
    """The taps' dict of outputs (empty when ``taps`` is None)."""
    if taps is None:
        return {}
    if with_input_gradient:
        return input_gradient(taps, x, y, training)
    return taps(x, training=training)
