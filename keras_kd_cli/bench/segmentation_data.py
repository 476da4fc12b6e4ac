"""Segmentation canvases built offline from CIFAR-10 images (cut and paste).

A canvas is ``CANVAS`` x ``CANVAS`` pixels: a background tiled from
``TILE`` x ``TILE`` corner crops of other images, with 1 to ``MAX_OBJECTS``
objects pasted on it at random places and sizes (later ones occlude earlier
ones), as in Cut, Paste and Learn (Dwibedi et al., 2017,
https://arxiv.org/abs/1708.01642). Each pixel's label is the class of the
object covering it plus 1, or 0 for background: ``NUM_CLASSES`` = 11.

The foreground mask of an object is a centred ellipse (semi-axes
``ELLIPSE_FRACTION`` of the pasted size). CIFAR-10 images are centred crops
in which the object fills most of the frame, so the ellipse covers most of
it; unlike a saliency or colour-distance threshold it is never empty or
ragged, does not fail on objects coloured like their surroundings (a grey
plane on a grey sky), and depends on nothing but the pasted size. The price
is label noise at the object's edge: some background pixels of the source
image are labelled with its class and some object pixels with 0. Background
tiles are corner crops because CIFAR-10 corners mostly show background.

Everything is NumPy with a seeded generator: the same images, seed and count
give the same canvases. Held-out canvases are built only from held-out
images (the validation split, objects and backgrounds alike).
"""

import numpy as np

from keras_kd import data

CANVAS = 64
TILE = 16
MIN_SIZE, MAX_SIZE = 20, 40  # pasted object sizes in pixels (the source is 32)
MAX_OBJECTS = 3
ELLIPSE_FRACTION = 0.45
NUM_CLASSES = 11  # 10 CIFAR-10 classes + background
TRAIN_SEED, HELDOUT_SEED = 0, 1


def load_images(source="sample", split="train", count=None):
    """``(images uint8 (n, 32, 32, 3), labels int (n,))`` of a CIFAR-10 split.

    Args:
        source: ``"sample"`` (the embedded sample: 5,000 training and 1,000
            validation images) or the shared ``cifar10-train.tfrecord.gz``
            (its first 45,000 records train, its last 5,000 validate).
        split: ``"train"`` or ``"validation"``.
        count: read only the first ``count`` images (None: all).

    Returns:
        The images and their class indices, as NumPy arrays.
    """
    ds = data.load(source, split)
    if count is not None:
        ds = ds.take(count)
    images, labels = [], []
    for x, y in ds.batch(1000).as_numpy_iterator():
        images.append(np.clip(np.round(x), 0, 255).astype("uint8"))
        labels.append(y.astype("int64"))
    return np.concatenate(images), np.concatenate(labels)


def ellipse_mask(size):
    """A centred (size, size) boolean ellipse with semi-axes ``ELLIPSE_FRACTION * size``."""
    centre = (size - 1) / 2
    radius = ELLIPSE_FRACTION * size
    r = (np.arange(size) - centre) / radius
    return r[:, None] ** 2 + r[None, :] ** 2 <= 1.0


def resize_nearest(image, size):
    """Nearest-neighbour resize of a square (s, s, 3) image to (size, size, 3)."""
    index = (np.arange(size) * image.shape[0]) // size
    return image[index][:, index]


def _background(images, rng):
    canvas = np.empty((CANVAS, CANVAS, 3), "uint8")
    side = images.shape[1]
    for top in range(0, CANVAS, TILE):
        for left in range(0, CANVAS, TILE):
            source = images[rng.integers(len(images))]
            row, col = rng.choice([0, side - TILE], size=2)
            crop = source[row : row + TILE, col : col + TILE]
            canvas[top : top + TILE, left : left + TILE] = crop
    return canvas


def build_canvases(images, labels, count, seed):
    """``count`` canvases and their label maps, built from ``images`` only.

    Args:
        images: uint8 (n, 32, 32, 3) CIFAR-10 images (objects and backgrounds).
        labels: their class indices 0..9.
        count: how many canvases.
        seed: the generator's seed (same inputs and seed: same canvases).

    Returns:
        ``(x uint8 (count, 64, 64, 3), y uint8 (count, 64, 64))`` with
        ``y = class + 1`` on objects and 0 on background.

    Example:
        ```python
        x, y = build_canvases(*load_images("sample", "validation"), 500, HELDOUT_SEED)
        ```
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) != len(labels):
        raise ValueError(
            "`images` must be (n, 32, 32, 3) with one label each. "
            f"Received: images.shape={images.shape}, labels.shape={labels.shape}"
        )
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1. Received: count={count!r}")
    rng = np.random.default_rng(seed)
    x = np.empty((count, CANVAS, CANVAS, 3), "uint8")
    y = np.zeros((count, CANVAS, CANVAS), "uint8")
    for i in range(count):
        x[i] = _background(images, rng)
        for _ in range(rng.integers(1, MAX_OBJECTS + 1)):
            index = rng.integers(len(images))
            size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
            top, left = rng.integers(0, CANVAS - size + 1, size=2)
            mask = ellipse_mask(size)
            window = (slice(top, top + size), slice(left, left + size))
            x[i][window][mask] = resize_nearest(images[index], size)[mask]
            y[i][window][mask] = labels[index] + 1
    return x, y


def segmentation_splits(source="sample", train_count=4000, heldout_count=500, images=None):
    """Training canvases from the training split and held-out canvases from
    the validation split.

    Args:
        source: ``"sample"`` or the shared CIFAR-10 file (`load_images`).
        train_count: training canvases (seed ``TRAIN_SEED``).
        heldout_count: held-out canvases (seed ``HELDOUT_SEED``).
        images: read only this many images of each split (None: all).

    Returns:
        ``((x_train, y_train), (x_heldout, y_heldout))`` as `build_canvases` gives.
    """
    train = build_canvases(*load_images(source, "train", images), train_count, TRAIN_SEED)
    heldout = build_canvases(
        *load_images(source, "validation", images), heldout_count, HELDOUT_SEED
    )
    return train, heldout
