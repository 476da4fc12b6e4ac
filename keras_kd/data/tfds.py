"""TensorFlow Datasets by name (``tfds:cifar10``), with a local ``data_dir``."""


def load_tfds(name, split="train", data_dir=None, download=False):
    """Loads ``(image, label)`` pairs of a TFDS image-classification dataset.

    Args:
        name: the TFDS name, e.g. ``cifar10`` or ``cifar100``.
        split: a TFDS split expression, e.g. ``train``, ``test``, ``train[:90%]``.
        data_dir: folder holding prepared TFDS data (no network is used when
            the data is already there).
        download: allow TFDS to download and prepare the data.

    Returns:
        A `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, download=download)
    except (tfds.core.registered.DatasetNotFoundError, AssertionError, OSError) as err:
        raise ValueError(
            f"Could not load TFDS dataset {name!r} (split={split!r}) from "
            f"data_dir={data_dir!r} without downloading; prepare it there first or "
            f"pass download=True. Received: name={name!r} "
            f"({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.int32)))
