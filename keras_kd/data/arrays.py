"""NumPy ``.npz`` files of any task: inputs, labels and optional sample weights.

A segmentation set stores masks as labels, ``y`` of shape (n, H, W); a
sequence set stores token ids as inputs and next tokens as labels, with a
``sample_weight`` of 0 on padding; a detector's several outputs are not
covered (their labels are several arrays: use the Python API).
"""

import numpy as np
import tensorflow as tf

from keras_kd.data.splits import split_range

ARRAYS = ("x", "y")
WEIGHTS = "sample_weight"


def load_npz(path, split="all", validation_split=None):
    """Loads a split of a ``.npz`` file of arrays ``x``, ``y`` and, optionally,
    ``sample_weight`` (one row per sample in each; the last ``validation_split``
    of the rows form the validation split).

    Args:
        path: the ``.npz`` file (``np.savez(path, x=..., y=...)``).
        split: ``"train"``, ``"validation"`` or ``"all"``.
        validation_split: fraction in [0, 1) at the end; None means 0.1.

    Returns:
        An unbatched `tf.data.Dataset` of ``(x, y)``, or ``(x, y,
        sample_weight)``, with the arrays' dtypes (float inputs as float32).

    Raises:
        ValueError: a file that is not an ``.npz`` archive, a missing array,
            an array of other keys, or arrays of different lengths.

    Example:
        ```python
        np.savez("masks.npz", x=images, y=masks)  # masks: (n, H, W) class ids
        train = load_npz("masks.npz", "train")
        ```
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"`source` must be a NumPy .npz archive (np.savez). Received: source={path!r} "
            f"({type(err).__name__}: {err})"
        ) from None
    with archive:
        keys = sorted(archive.files)
        missing = [key for key in ARRAYS if key not in keys]
        unknown = [key for key in keys if key not in (*ARRAYS, WEIGHTS)]
        if missing or unknown:
            raise ValueError(
                f"`source` must be an .npz file of arrays 'x' and 'y' (and optionally "
                f"'sample_weight'), one row per sample. Received: source={path!r} with arrays "
                f"{keys}"
            )
        arrays = [archive[key] for key in (*ARRAYS, WEIGHTS) if key in keys]
    lengths = [len(a) if a.ndim else 0 for a in arrays]
    if len(set(lengths)) != 1 or not lengths[0]:
        raise ValueError(
            f"`source` arrays must have one row per sample, the same number in each. "
            f"Received: source={path!r} with lengths "
            f"{dict(zip([k for k in (*ARRAYS, WEIGHTS) if k in keys], lengths, strict=True))}"
        )
    if len(arrays) == 3:
        _check_weights(arrays[2], arrays[1].shape, path)
    start, count = split_range(lengths[0], split, validation_split, path)
    parts = tuple(
        (a.astype("float32") if a.dtype.kind == "f" else a)[start : start + count] for a in arrays
    )
    return tf.data.Dataset.from_tensor_slices(parts)


def _check_weights(weights, label_shape, path):
    """Sample weights: one per sample or per position (the labels' leading shape),
    finite and non-negative."""
    if weights.shape != tuple(label_shape[: weights.ndim]) or weights.dtype.kind not in "fiub":
        raise ValueError(
            "`source` array 'sample_weight' must be numbers of the labels' leading shape: "
            f"one per sample {label_shape[:1]} or one per position, e.g. {label_shape[:2]}. "
            f"Received: source={path!r} with y {label_shape} and sample_weight "
            f"{weights.shape} ({weights.dtype})"
        )
    values = weights.astype("float64")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            "`source` array 'sample_weight' must hold finite, non-negative numbers (0 leaves "
            f"a sample or position out). Received: source={path!r} with "
            f"{int(np.sum(values < 0))} negative and {int(np.sum(~np.isfinite(values)))} NaN "
            "or inf weights"
        )
