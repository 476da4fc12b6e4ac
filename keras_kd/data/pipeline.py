"""Batching and the standard CIFAR augmentation (pad-4 random crop + flip)."""

import tensorflow as tf

from keras_kd.data.indexed import INPUT_KEY, is_indexed_spec


def random_crop_flip(image, pad=4):
    """Pads by ``pad`` pixels (zeros), crops back at random and flips at random."""
    shape = tf.shape(image)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.random_crop(padded, shape)
    return tf.image.random_flip_left_right(image)


def _augment(x, *rest):
    if is_indexed_spec(x):
        return ({**x, INPUT_KEY: random_crop_flip(x[INPUT_KEY])}, *rest)
    return (random_crop_flip(x), *rest)


def batch_for_training(ds, batch_size, shuffle=True, augment=False, seed=0, drop_remainder=False):
    """Shuffles, optionally augments, batches and prefetches an image dataset.

    Args:
        ds: unbatched ``(image, label)`` dataset, or one made by
            `with_sample_index` (only its images are augmented).
        batch_size: batch size.
        shuffle: reshuffle every epoch (seeded).
        augment: apply pad-4 random crop and horizontal flip.
        seed: shuffle seed.
        drop_remainder: drop the last partial batch.

    Returns:
        A batched, prefetched `tf.data.Dataset` of ``(images, labels)``; the
        decoded images are cached in memory after the first epoch.

    Example:
        ```python
        train = data.batch_for_training(data.load("sample", "train"), batch_size=64)
        distiller.fit(train, epochs=10)
        ```
    """
    if batch_size <= 0:
        raise ValueError(f"`batch_size` must be > 0. Received: batch_size={batch_size}")
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(50_000, seed=seed, reshuffle_each_iteration=True)
    if augment:
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
