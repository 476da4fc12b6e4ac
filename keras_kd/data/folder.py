"""Image-folder datasets: ``root/<class name>/<image file>``."""

import os

import keras


def load_image_folder(root, image_size=(32, 32), seed=0):
    """Loads ``(image, label)`` pairs from a folder of class subfolders.

    Classes are the subfolder names in sorted order; labels are their indices.

    Args:
        root: the folder holding one subfolder per class.
        image_size: (height, width) that images are resized to.
        seed: shuffling seed of the file list.

    Returns:
        ``(dataset, class_names)``: an unbatched `tf.data.Dataset` of
        ``(float32 image in 0..255, int32 label)`` and the class names.
    """
    if not os.path.isdir(root):
        raise ValueError(f"`root` must be an existing folder. Received: root={root!r}")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not classes:
        raise ValueError(
            "`root` must hold one subfolder per class (root/<class>/<image>). "
            f"Received: root={root!r} with no subfolders"
        )
    ds = keras.utils.image_dataset_from_directory(
        root,
        labels="inferred",
        label_mode="int",
        class_names=classes,
        image_size=tuple(image_size),
        batch_size=None,
        shuffle=True,
        seed=seed,
        verbose=False,
    )
    return ds, classes
