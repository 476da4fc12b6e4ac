"""`load`: one entry point for the sample, TFDS, TFRecord files and image folders."""

import os

from keras_kd.data._images import check_image_size, resize
from keras_kd.data.arrays import load_npz
from keras_kd.data.cifar10 import load_sample
from keras_kd.data.folder import load_image_folder
from keras_kd.data.tfds import tfds_dataset
from keras_kd.data.tfrecord import load_tfrecord_split

_SOURCES = "'sample', 'tfds:NAME', a .tfrecord.gz file, an image folder or an .npz file"


def load(
    source,
    split="train",
    data_dir=None,
    download=False,
    image_size=None,
    validation_split=None,
):
    """Loads a dataset from a name or a local path.

    Args:
        source: one of
            - ``"sample"``: the CIFAR-10 sample inside the package (5,000
              training and 1,000 validation images, no download);
            - ``"tfds:NAME"``: a TensorFlow Datasets image-classification
              dataset, read from ``data_dir``;
            - a GZIP TFRecord file (``.tfrecord.gz``) of `tf.train.Example`
              records with ``image`` (encoded JPEG/PNG bytes) and ``label``
              (int64) features, records in a shuffled order;
            - an image folder ``root/<class>/<image>`` (labels are the
              sorted class-folder indices);
            - a NumPy ``.npz`` file of arrays ``x``, ``y`` and optionally
              ``sample_weight`` (`keras_kd.data.arrays.load_npz`): any task,
              e.g. masks per pixel or tokens per position as labels.
        split: for a file or folder, ``"train"``, ``"validation"`` (the last
            ``validation_split`` of it) or ``"all"``; for the sample,
            ``"train"`` or ``"validation"``; for TFDS, a split expression
            such as ``"test"`` or ``"train[:90%]"``.
        data_dir: TFDS data folder (``tfds:NAME`` only). None: TFDS's default.
        download: let TFDS download and prepare a dataset that is not in
            ``data_dir`` (``tfds:NAME`` only).
        image_size: ``(height, width)`` to resize images to. None keeps the
            stored size, which must then be the same for every image.
        validation_split: fraction in [0, 1) of a file or folder that forms
            the validation split (files and folders only). None means 0.1,
            which gives the shared 50,000-record CIFAR-10 file its 45,000
            training and 5,000 validation records.

    Returns:
        An unbatched `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``;
        for an ``.npz`` file, of ``(x, y[, sample_weight])`` as stored.

    Example:
        ```python
        train = load("my-images/", "train", image_size=(64, 64))
        val = load("my-images/", "validation", image_size=(64, 64))
        ```
    """
    if not isinstance(source, str) or not source:
        raise ValueError(f"`source` must be {_SOURCES}. Received: source={source!r}")
    image_size = check_image_size(image_size)
    named = source == "sample" or source.startswith("tfds:")
    if named and validation_split is not None:
        raise ValueError(
            "`validation_split` applies to TFRecord files and image folders only: "
            "the sample has fixed train and validation parts, and TFDS takes a "
            "split expression such as split='train[90%:]'. "
            f"Received: source={source!r}, validation_split={validation_split!r}"
        )
    if source == "sample":
        ds = load_sample(split)
    elif source.startswith("tfds:"):
        name = source[len("tfds:") :]
        ds = tfds_dataset(name, split, data_dir, download, received=f"source={source!r}")
    elif os.path.isdir(source):
        return load_image_folder(source, image_size, split, validation_split)[0]
    elif os.path.isfile(source) and source.endswith(".npz"):
        if image_size is not None:
            raise ValueError(
                "`image_size` applies to image files and folders, not to .npz arrays "
                f"(resize them before saving). Received: source={source!r}, "
                f"image_size={image_size!r}"
            )
        return load_npz(source, split, validation_split)
    elif os.path.isfile(source):
        return load_tfrecord_split(source, split, validation_split, image_size)
    else:
        raise ValueError(
            f"`source` must be {_SOURCES} that exists. Received: source={source!r} (no such path)"
        )
    return ds if image_size is None else ds.map(lambda x, y: (resize(x, image_size), y))
