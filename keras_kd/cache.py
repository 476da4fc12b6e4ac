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


def cache_teacher_outputs(
    distiller, dataset, batch_size=256, dtype="float32", directory=None, verbose="auto"
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
        for name, value in teacher_outputs(x, tf.convert_to_tensor(y)).items():
            outputs.setdefault(name, []).append(tf.cast(value, dtype).numpy())
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

    def attach(element, cache):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element)
        target = {
            LABELS_KEY: y,
            FINGERPRINT_KEY: cache[FINGERPRINT_KEY],
            CACHE_KEY: {k: tf.cast(v, tf.float32) for k, v in cache[CACHE_KEY].items()},
        }
        return (x, target) if sample_weight is None else (x, target, sample_weight)

    zipped = tf.data.Dataset.zip((dataset, cached)).map(attach, num_parallel_calls=tf.data.AUTOTUNE)
    return TeacherCache(zipped, samples, int(per_sample))


__all__ = ["TeacherCache", "cache_teacher_outputs"]
