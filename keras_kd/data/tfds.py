"""TensorFlow Datasets by name (``tfds:cifar10``), with a local ``data_dir``."""


def load_tfds(name, split="train", data_dir=None, download=False):
    """Loads ``(image, label)`` pairs of a TFDS image-classification dataset.

    Args:
        name: the TFDS name, e.g. ``cifar10`` or ``cifar100``.
        split: a TFDS split expression, e.g. ``train``, ``test``, ``train[:90%]``.
        data_dir: folder holding prepared TFDS data (no network is used when
            the data is already there). None: TFDS's default folder.
        download: allow TFDS to download and prepare the data.

    Returns:
        A `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``.

    Example:
        ```python
        ds = load_tfds("cifar10", split="test", data_dir="/data/tfds")
        ```
    """
    return tfds_dataset(name, split, data_dir, download, received=f"name={name!r}")


def tfds_dataset(name, split, data_dir, download, received):
    """`load_tfds` with the ``Received:`` part of its errors given by the caller."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, download=download)
    except tfds.core.registered.DatasetNotFoundError as err:
        raise ValueError(
            f"There is no TFDS dataset named {name!r}; `tfds.list_builders()` lists "
            f"the names (e.g. 'cifar10', 'cifar100'). Received: {received}"
        ) from err
    except (AssertionError, OSError) as err:
        where = "TFDS's default folder" if data_dir is None else repr(data_dir)
        raise ValueError(
            f"TFDS dataset {name!r} is not prepared in {where}. Prepare it once "
            f"(`tfds build {name} --data_dir DIR`) and pass `data_dir=DIR`, or pass "
            f"`download=True` to let TFDS download it. Received: {received}, "
            f"data_dir={data_dir!r}"
        ) from err
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.int32)))
