"""Batch reduction shared by the loss functions: one rule for samples, pixels and tokens."""

import tensorflow as tf


def _per_position_weights(values, sample_weight):
    """``(weights, masks)``: the weights broadcast to ``values``' shape, and
    whether they mark the real positions (a weight tensor of ``values``' own
    shape does; a per-sample one only weighs)."""
    weight = tf.cast(sample_weight, tf.float32)
    rank = values.shape.rank
    if weight.shape.rank == rank + 1 and weight.shape[-1] == 1:
        weight = tf.squeeze(weight, -1)
    if rank > 1 and weight.shape.rank == rank:
        return weight, True
    if rank == 1 and weight.shape.rank is not None and weight.shape.rank > 1:
        return _sample_weights_of_positions(weight), False
    weight = tf.reshape(weight, [-1])
    return tf.reshape(weight, [-1] + [1] * (rank - 1)) * tf.ones_like(values), False


def _sample_weights_of_positions(weight):
    """A per-position weight seen by a per-sample loss: the mean weight of the
    sample's real positions (0 for a sample with none)."""
    flat = tf.reshape(weight, [tf.shape(weight)[0], -1])
    real = tf.reduce_sum(tf.cast(flat > 0, tf.float32), axis=1)
    return tf.math.divide_no_nan(tf.reduce_sum(flat, axis=1), real)


def global_count(count):
    """``count`` summed over the replicas of a distribution strategy, divided
    by their number: the per-replica share of the global batch's count.

    The step template divides each replica's total by the number of replicas
    and sums the replicas' gradients, so a replica dividing its own sum by
    this share gives the global mean, however unevenly the real positions
    fall on the replicas (the pitfall of per-micro-batch normalization)."""
    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if context is None or replicas == 1:
        return count
    return context.all_reduce(tf.distribute.ReduceOp.SUM, count) / replicas


def batch_mean(values, sample_weight=None, mask=None):
    """Mean of a loss over the real positions of the global batch.

    ``values`` holds one loss per sample, shape (batch,), or per position,
    shape (batch, ...) (a pixel of a segmentation map, a token of a
    sequence). The result is ``sum(w * m * l) / N``: ``w`` the sample
    weights broadcast over the positions, ``m`` the mask and ``N`` the number
    of real positions in the whole batch (over every replica under
    `tf.distribute`, see `global_count`).

    A position is real when ``mask`` is True there and, for a weight tensor
    of ``values``' own shape (a padding mask given as sample weights), its
    weight is > 0. Per-sample weights weigh but do not mask: with them and
    no mask ``N`` is every position, Keras's ``sum_over_batch_size``, so a
    weight of 0 removes a sample's contribution and all-ones weights equal
    the plain mean. A per-position weight reaching a per-sample loss is the
    mean weight of the sample's real positions.

    Args:
        values: (batch,) or (batch, ...) losses.
        sample_weight: None, (batch,) per-sample weights, or per-position
            weights of ``values``' shape (a trailing axis of 1 is dropped).
        mask: None or a boolean tensor of ``values``' shape: True at the real
            positions (a Keras mask, e.g. from ``Embedding(mask_zero=True)``).

    Returns:
        A float32 scalar (0 when there is no real position).
    """
    values = tf.cast(values, tf.float32)
    if sample_weight is None and mask is None:
        count = tf.cast(tf.size(values), tf.float32)
        return tf.reduce_sum(values) / global_count(count)
    weight, masks = tf.ones_like(values), False
    if sample_weight is not None:
        weight, masks = _per_position_weights(values, sample_weight)
    real = weight > 0 if masks else tf.ones_like(values, dtype=tf.bool)
    if mask is not None:
        mask = tf.reshape(tf.cast(mask, tf.bool), tf.shape(values))
        real = real & mask
        weight = weight * tf.cast(mask, tf.float32)
    count = tf.reduce_sum(tf.cast(real, tf.float32))
    return tf.math.divide_no_nan(tf.reduce_sum(values * weight), global_count(count))


def position_weights(logits, sample_weight=None):
    """The weights a logit term reduces ``logits``' per-position losses with.

    ``logits`` of shape (batch, *positions, C) carrying a Keras mask (e.g.
    from ``Embedding(mask_zero=True)`` through the layers that propagate it)
    give per-position weights ``sample_weight * mask``: padding positions,
    and the positions of a sample weighted 0, are not real (see
    `batch_mean`). Otherwise ``sample_weight`` as it is.

    Args:
        logits: the logits the loss is computed on, straight from the model
            (an operation on them drops the mask).
        sample_weight: None, per-sample or per-position weights.

    Returns:
        None, ``sample_weight``, or a float32 (batch, *positions) tensor.
    """
    mask = getattr(logits, "_keras_mask", None)  # where Keras 3 keeps a tensor's mask
    if mask is None or logits.shape.rank is None or logits.shape.rank <= 2:
        return sample_weight
    mask = tf.cast(mask, tf.float32)
    if sample_weight is None:
        return mask
    weight, _ = _per_position_weights(mask, sample_weight)
    return weight * mask


def padding_mask(sample_weight, logits):
    """The real positions of ``logits`` (batch, *positions, C) as a boolean
    mask: per-position weights > 0 (see `position_weights`); None for
    per-sample weights or none (every position is real)."""
    if sample_weight is None or logits.shape.rank <= 2:
        return None
    weight, masks = _per_position_weights(logits[..., 0], sample_weight)
    return weight > 0 if masks else None


def flatten_per_sample(x):
    """Reshapes ``x`` to (batch, features) in float32."""
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])
