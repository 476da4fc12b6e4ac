"""Each sample's index in the training set, for methods with a per-sample memory (CRD)."""

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
