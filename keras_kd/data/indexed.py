"""Each sample's index in the training set, for methods with a per-sample memory (CRD)."""

import numpy as np
import tensorflow as tf

INPUT_KEY = "x"
SAMPLE_INDEX_KEY = "sample_index"


def with_sample_index(dataset):
    """Pairs each element of an unbatched dataset with its position in it.

    ``(x, y[, sample_weight])`` becomes ``({"x": x, "sample_index": i}, y[,
    sample_weight])`` with ``i`` the element's int32 position (0, 1, ...,
    ``n - 1``). Apply it **before** shuffling, augmenting and batching, so
    that an index stays attached to its sample: `keras_kd.distillers.CRD`
    keeps one memory row per index. `batch_for_training` augments the images
    of such elements and leaves their indices alone. In-memory arrays take the
    same layout: ``x={"x": images, "sample_index": np.arange(len(images))}``.

    Args:
        dataset: an unbatched `tf.data.Dataset` of ``(x, y)`` or ``(x, y,
            sample_weight)`` tuples, in a fixed order.

    Returns:
        The indexed `tf.data.Dataset`.

    Raises:
        ValueError: ``dataset`` is not a dataset of ``(x, y[, sample_weight])``
            tuples, or already carries sample indices.

    Example:
        ```python
        raw = data.load("sample", "train")
        train = data.batch_for_training(data.with_sample_index(raw), batch_size=64)
        crd = distillers.CRD(student, teacher, ["pool"], ["pool"], num_samples=5000)
        crd.fit(train, epochs=10)
        ```
    """
    spec = getattr(dataset, "element_spec", None)
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            "`dataset` must be an unbatched tf.data.Dataset of (x, y) or (x, y, "
            f"sample_weight) tuples. Received: dataset={dataset!r} with element spec {spec!r}"
        )
    if is_indexed_spec(spec[0]):
        raise ValueError(
            "`dataset` already carries sample indices ({'x': ..., 'sample_index': ...}). "
            f"Received: dataset with element spec {spec!r}"
        )

    def attach(index, element):
        return ({INPUT_KEY: element[0], SAMPLE_INDEX_KEY: tf.cast(index, tf.int32)}, *element[1:])

    return dataset.enumerate().map(attach, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def is_indexed_spec(x):
    """True when ``x`` (an element, a batch or their spec) is ``{"x", "sample_index"}``."""
    return isinstance(x, dict) and set(x) == {INPUT_KEY, SAMPLE_INDEX_KEY}


def split_sample_index(x):
    """``(inputs, sample indices)`` of an indexed ``x``, else ``(x, None)``."""
    if is_indexed_spec(x):
        return x[INPUT_KEY], x[SAMPLE_INDEX_KEY]
    return x, None


def require_sample_index(x, num_samples, needing, batch=False):
    """Raises a ValueError unless training data ``x`` carries each sample's index.

    Arrays are checked to be in ``[0, num_samples)``; a generator or
    `keras.utils.PyDataset` (``x`` None here) is checked when a batch arrives
    (``batch=True`` then says that one came without indices).

    Args:
        x: `fit`'s ``x`` (a dataset, a dict of arrays, None), or None with ``batch``.
        num_samples: the number of training samples.
        needing: the names of the terms that keep a memory row per sample.
        batch: True when a training batch without indices arrived.
    """
    if batch:
        received = "batches without 'sample_index'"
    elif isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if isinstance(spec, tuple) and is_indexed_spec(spec[0]):
            return
        received = f"a dataset with element spec {spec!r}"
    elif is_indexed_spec(x):
        index = np.asarray(x[SAMPLE_INDEX_KEY])
        if index.size and (index.min() < 0 or index.max() >= num_samples):
            raise ValueError(
                "`x['sample_index']` must hold each sample's index in the training set, in "
                f"[0, {num_samples}) (`num_samples`). Received: indices from {index.min()} "
                f"to {index.max()}"
            )
        return
    elif x is None:
        return  # a generator or PyDataset in another argument: checked when the step runs
    else:
        received = f"x of type {type(x).__name__}"
    raise ValueError(
        f"The {list(needing)} term(s) keep a memory row per training sample, so each batch "
        "must carry the samples' indices in the training set: pass "
        "`keras_kd.data.with_sample_index(dataset)` (before shuffling and batching) "
        "or x={'x': inputs, 'sample_index': np.arange(len(inputs))}. Received: " + received
    )
