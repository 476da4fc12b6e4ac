"""Teacher-output cache: run the teacher once, reuse its outputs every epoch.

In distillation the teacher's forward pass often costs more than the
student's whole step. When the input pipeline is deterministic (no random
augmentation, as in the edge recipes), the teacher's logits and tapped
features can be computed once and read back instead.

The cache is built from an **unbatched** dataset in a fixed order; the
returned dataset pairs each sample with its cached outputs, so it may then be
shuffled and batched freely. Each sample also carries a fingerprint of its
input (sum and sum of squares); the train step compares it with the input it
receives and stops with an error when they differ, which catches a random
augmentation applied before or after the cache and a dataset that changed.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_kd._checks import one_of, positive_int
from keras_kd._progress import Progress
from keras_kd.distillers._cached import CACHE_KEY, FINGERPRINT_KEY, LABELS_KEY, fingerprint
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY

TOP_K_KEYS = ("top_k_logits", "top_k_indices", "log_normalizer")
TAIL_FLOOR = 1e-30  # smallest probability given to a class outside the top k


@dataclasses.dataclass
class TeacherCache:
    """A cached dataset and its size.

    Attributes:
        dataset: unbatched dataset of ``(x, {"labels": y, ...}[, sample_weight])``
            to shuffle, batch and pass to the distiller's `fit`.
        samples: number of cached samples.
        bytes_per_sample: bytes of teacher outputs stored per sample.

    Example:
        ```python
        cache = cache_teacher_outputs(distiller, data.load("sample", "train"))
        print(cache.samples, cache.bytes_per_sample)  # 5000 40 (KD: 10 float32 logits)
        distiller.fit(cache.dataset.shuffle(5000).batch(64), epochs=10)
        ```
    """

    dataset: tf.data.Dataset
    samples: int
    bytes_per_sample: int


def top_k_logits(logits, k):
    """What the cache keeps of ``logits`` (..., V): the k largest per position,
    their class indices and the log-normalizer ``logsumexp(logits)``.

    Args:
        logits: (..., V) logits, the class axis last.
        k: how many to keep, 1 <= k < V.

    Returns:
        ``{"top_k_logits": (..., k), "top_k_indices": (..., k) int32,
        "log_normalizer": (...)}``.

    Example:
        ```python
        kept = top_k_logits(teacher(tokens), 20)  # 41 numbers per token, not 50,000
        ```
    """
    logits = tf.cast(logits, tf.float32)
    values, indices = tf.math.top_k(logits, k)
    return {
        TOP_K_KEYS[0]: values,
        TOP_K_KEYS[1]: indices,
        TOP_K_KEYS[2]: tf.reduce_logsumexp(logits, axis=-1),
    }


def logits_from_top_k(top_k_logits, top_k_indices, log_normalizer, classes):
    """Logits (..., V) rebuilt from `top_k_logits`: the k kept classes get their
    own logits, so at temperature 1 their probabilities are the teacher's; the
    probability left, ``1 - sum(top k)``, is spread evenly over the other
    classes (each at least `TAIL_FLOOR`, so no class is impossible).

    Args:
        top_k_logits: (..., k) the k largest logits of each position.
        top_k_indices: (..., k) their classes.
        log_normalizer: (...) ``logsumexp`` of the full logits.
        classes: V.

    Returns:
        A float32 (..., V) tensor.

    Example:
        ```python
        logits = logits_from_top_k(**top_k_logits(teacher(tokens), 20), classes=50000)
        ```
    """
    values, indices = tf.cast(top_k_logits, tf.float32), top_k_indices
    log_normalizer = tf.cast(log_normalizer, tf.float32)
    k = values.shape[-1]
    kept = tf.reduce_sum(tf.exp(values - log_normalizer[..., None]), axis=-1)
    tail = tf.maximum((1.0 - kept) / float(classes - k), TAIL_FLOOR)
    fill = log_normalizer + tf.math.log(tail)
    positions = tf.reshape(fill, [-1])
    dense = tf.tile(positions[:, None], [1, classes])
    rows = tf.repeat(tf.range(tf.size(positions)), k)
    where = tf.stack([rows, tf.reshape(indices, [-1])], axis=1)
    dense = tf.tensor_scatter_nd_update(dense, where, tf.reshape(values, [-1]))
    return tf.reshape(dense, tf.concat([tf.shape(values)[:-1], [classes]], 0))


def cache_teacher_outputs(
    distiller, dataset, batch_size=256, dtype="float32", directory=None, verbose="auto", top_k=None
):
    """Runs ``distiller``'s teacher once over ``dataset`` and caches its outputs.

    Args:
        distiller: an offline `Distiller` (its teacher and taps are used).
        dataset: an unbatched, deterministic dataset of ``(x, y)`` or
            ``(x, y, sample_weight)``.
        batch_size: batch size of the caching pass.
        dtype: ``"float32"`` or ``"float16"`` storage (read back as float32).
        directory: store the cache on disk there (`tf.data.Dataset.save`)
            instead of in memory.
        verbose: ``"auto"``, 0 (silent), 1 (a progress bar over the samples)
            or 2 (one line, ``caching teacher outputs 5000/5000 - ...``);
            ``"auto"`` is 1 on a terminal, else (a log, or ``CI`` set) 2.
        top_k: None (every logit), or keep only the k largest logits of each
            sample or position with their class indices and the
            log-normalizer: 2k + 1 numbers instead of V, for a large
            vocabulary. Read back as full logits (`logits_from_top_k`): exact
            at temperature 1 on the k classes, the rest of the probability
            spread evenly over the other classes.

    Returns:
        A `TeacherCache`.

    Example:
        ```python
        cache = cache_teacher_outputs(distiller, data.load("sample", "train"))
        distiller.fit(cache.dataset.shuffle(5000).batch(64), epochs=10)
        ```
    """
    if not isinstance(distiller, Distiller):
        raise ValueError(
            "`distiller` must be an offline keras_kd Distiller (a frozen teacher). "
            f"Received: distiller of type {type(distiller).__name__}"
        )
    if not distiller.teacher_cacheable:
        raise ValueError(
            "`distiller` must be one whose teacher sees the dataset's inputs as they are; "
            f"{type(distiller).__name__} shows the teacher a new random view of every batch "
            "at every step, so its outputs cannot be computed once and reused. Fit it on "
            f"the dataset itself. Received: distiller of type {type(distiller).__name__}"
        )
    one_of("dtype", dtype, ("float32", "float16"))
    positive_int("batch_size", batch_size)
    classes = distiller.logits_shape[-1]
    if top_k is not None and (positive_int("top_k", top_k) >= classes):
        raise ValueError(
            f"`top_k` must be smaller than the number of classes ({classes}) to save "
            f"anything; use top_k=None to cache every logit. Received: top_k={top_k}"
        )
    spec = dataset.element_spec
    inputs = distiller.student.inputs
    if (
        not isinstance(spec, tuple)
        or len(spec) not in (2, 3)
        or len(inputs) == 1
        and hasattr(spec[0], "shape")
        and spec[0].shape.rank != len(inputs[0].shape) - 1
    ):
        raise ValueError(
            "`dataset` must be unbatched (x, y) or (x, y, sample_weight) samples; shuffle "
            "and batch the cached dataset afterwards. Received: element spec "
            f"{dataset.element_spec}"
        )
    outputs, prints = {}, []
    count = int(dataset.cardinality())
    progress = Progress("caching teacher outputs", count if count >= 0 else None, verbose, "sample")
    # One traced graph for the whole pass: faster than eager and frees each
    # batch's activations as it goes.
    teacher_outputs = tf.function(distiller.teacher_outputs_for_cache, reduce_retracing=True)
    for element in dataset.batch(batch_size):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(element)
        found = teacher_outputs(x, tf.convert_to_tensor(distiller.logit_labels(y)))
        if top_k is not None:
            logits = found.pop(OUTPUT_KEY)
            found = {**found, **top_k_logits(logits, top_k)}
        for name, value in found.items():
            kept = value if value.dtype.is_integer else tf.cast(value, dtype)
            outputs.setdefault(name, []).append(kept.numpy())
        prints.append(fingerprint(x).numpy())
        progress.update(progress.done + len(prints[-1]))
    if not prints:
        raise ValueError("`dataset` must not be empty. Received: an empty dataset")
    progress.close()
    arrays = {name: np.concatenate(parts) for name, parts in outputs.items()}
    samples = len(np.concatenate(prints))
    per_sample = sum(a.nbytes for a in arrays.values()) // samples
    cached = tf.data.Dataset.from_tensor_slices(
        {CACHE_KEY: arrays, FINGERPRINT_KEY: np.concatenate(prints)}
    )
    if directory is not None:
        cached.save(directory)
        cached = tf.data.Dataset.load(directory)

    def read_back(stored):
        if top_k is None:
            return {k: tf.cast(v, tf.float32) for k, v in stored.items()}
        rest = {k: tf.cast(v, tf.float32) for k, v in stored.items() if k not in TOP_K_KEYS}
        kept = {k: stored[k] for k in TOP_K_KEYS}
        return {**rest, OUTPUT_KEY: logits_from_top_k(**kept, classes=classes)}

    def attach(element, cache):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element)
        target = {
            LABELS_KEY: y,
            FINGERPRINT_KEY: cache[FINGERPRINT_KEY],
            CACHE_KEY: read_back(cache[CACHE_KEY]),
        }
        return (x, target) if sample_weight is None else (x, target, sample_weight)

    zipped = tf.data.Dataset.zip((dataset, cached)).map(attach, num_parallel_calls=tf.data.AUTOTUNE)
    return TeacherCache(zipped, samples, int(per_sample))


__all__ = ["TeacherCache", "cache_teacher_outputs", "logits_from_top_k", "top_k_logits"]
