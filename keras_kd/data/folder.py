"""Image-folder datasets: ``root/<class name>/<image file>``."""

import os

import numpy as np
import tensorflow as tf

from keras_kd.data._images import check_image_size, resize
from keras_kd.data.splits import split_range

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_SHOWN = 5  # unreadable files named in an error


def _decode(path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.cast(image, tf.float32)


def _list_images(root, classes):
    paths, labels = [], []
    for label, name in enumerate(classes):
        found = []
        for folder, _, files in os.walk(os.path.join(root, name)):
            images = [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
            found += [os.path.join(folder, f) for f in images]
        paths += sorted(found)
        labels += [label] * len(found)
    return paths, labels


def _image_sizes(paths):
    """Decodes every image once; returns ``{index: (height, width)}`` of the readable ones."""
    indexed = tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), paths))
    sizes = indexed.map(
        lambda i, path: (i, tf.shape(_decode(path))[:2]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    ).ignore_errors()
    found = {}
    for index, size in sizes.batch(1024).as_numpy_iterator():
        found.update(zip(index.tolist(), map(tuple, size.tolist()), strict=True))
    return found


def _check_images(root, paths, image_size):
    """Raises if a file is unreadable or if sizes differ without ``image_size``."""
    sizes = _image_sizes(paths)
    bad = [p for i, p in enumerate(paths) if i not in sizes]
    if bad:
        more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        raise ValueError(
            f"{len(bad)} file(s) under `root` could not be decoded as images "
            f"(truncated, empty, or not JPEG/PNG/GIF/BMP): {bad[:_SHOWN]}{more}. "
            "Delete or re-save them (or move them out of the class folders) and "
            f"load again. Received: root={root!r}"
        )
    distinct = {}
    for i, size in sizes.items():
        distinct.setdefault(size, paths[i])
    if image_size is None and len(distinct) > 1:
        examples = "; ".join(f"{h}x{w}: {p!r}" for (h, w), p in list(distinct.items())[:3])
        raise ValueError(
            f"The images under `root` have {len(distinct)} different sizes "
            f"({examples}). Pass image_size=(height, width) to resize them all "
            f"to one size. Received: image_size=None, root={root!r}"
        )
    return next(iter(distinct))


def load_image_folder(root, image_size=None, split="all", validation_split=None, seed=0):
    """Loads ``(image, label)`` pairs from a folder of class subfolders.

    Classes are the subfolder names in sorted order; labels are their indices.
    Files ending in .bmp, .gif, .jpeg, .jpg or .png (in any subfolder of a
    class folder) are images. Every image is decoded once here, so that an
    unreadable file is named now rather than failing a training step later.

    Args:
        root: the folder holding one subfolder per class.
        image_size: ``(height, width)`` to resize every image to. None keeps
            the stored size, which must then be the same for every image.
        split: ``"all"``, ``"train"`` or ``"validation"``: after one seeded
            shuffle of the file list, the last ``validation_split`` of the
            files are the validation split and the rest the training split.
        validation_split: fraction in [0, 1); None means 0.1.
        seed: seed of the file-list shuffle.

    Returns:
        ``(dataset, class_names)``: an unbatched `tf.data.Dataset` of
        ``(float32 image in 0..255, int32 label)`` with a known length, and
        the class names.

    Example:
        ```python
        ds, classes = load_image_folder("flowers/", image_size=(64, 64))
        ```
    """
    if not os.path.isdir(root):
        raise ValueError(f"`root` must be an existing folder. Received: root={root!r}")
    image_size = check_image_size(image_size)
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not classes:
        raise ValueError(
            "`root` must hold one subfolder per class (root/<class>/<image>). "
            f"Received: root={root!r} with no subfolders"
        )
    paths, labels = _list_images(root, classes)
    if not paths:
        raise ValueError(
            f"`root` must hold image files ({', '.join(IMAGE_EXTENSIONS)}) in its "
            f"class subfolders. Received: root={root!r} with none"
        )
    start, count = split_range(len(paths), split, validation_split, f"root={root!r}")
    stored_size = _check_images(root, paths, image_size)
    order = np.random.default_rng(seed).permutation(len(paths))
    chosen = order[start : start + count]
    ds = tf.data.Dataset.from_tensor_slices(
        ([paths[i] for i in chosen], np.asarray(labels, np.int32)[chosen])
    )

    def decode(path, label):
        image = _decode(path)
        if image_size is not None:
            return resize(image, image_size), label
        image.set_shape([*stored_size, 3])
        return image, label

    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE), classes
