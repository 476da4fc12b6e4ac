"""Train/validation splits of a local file or folder: the last fraction is validation.

The shared CIFAR-10 file (50,000 records in a fixed random order) with the
default ``validation_split=0.1`` gives its 45,000 + 5,000 layout.
"""

import numbers
from fractions import Fraction

SPLITS = ("train", "validation", "all")
DEFAULT_VALIDATION_SPLIT = 0.1


def check_validation_split(validation_split):
    """Returns ``validation_split`` (None means the default 0.1); raises if out of range."""
    if validation_split is None:
        return DEFAULT_VALIDATION_SPLIT
    if (
        not isinstance(validation_split, numbers.Real)
        or isinstance(validation_split, bool)
        or not 0 <= validation_split < 1
    ):
        raise ValueError(
            "`validation_split` must be a fraction in [0, 1): the share of "
            "records (or images) at the end that form the validation split. "
            f"Received: validation_split={validation_split!r}"
        )
    return float(validation_split)


def split_range(total, split, validation_split, what):
    """Returns ``(start, count)`` of ``split`` among ``total`` ordered items.

    Args:
        total: number of records or images.
        split: ``"train"`` (all but the last fraction), ``"validation"`` (the
            last ``validation_split`` of them, rounded down) or ``"all"``.
        validation_split: fraction in [0, 1); None means 0.1.
        what: the file or folder, for error messages.

    Returns:
        ``(start, count)``.

    Example:
        ```python
        split_range(50_000, "validation", 0.1, "cifar10-train.tfrecord.gz")
        # (45000, 5000)
        ```
    """
    if split not in SPLITS:
        raise ValueError(
            f"`split` must be one of {SPLITS} for a local file or folder. Received: split={split!r}"
        )
    validation_split = check_validation_split(validation_split)
    # Exact decimal arithmetic: 0.29 of 100 is 29, not int(28.999...).
    validation = int(Fraction(repr(validation_split)) * total)
    start, count = {
        "train": (0, total - validation),
        "validation": (total - validation, validation),
        "all": (0, total),
    }[split]
    if count == 0:
        raise ValueError(
            f"The {split!r} split of {what} is empty: its {total} items with "
            f"validation_split={validation_split} give {total - validation} for "
            f"training and {validation} for validation. Pass a `validation_split` "
            "that leaves both non-empty, or split='all'. "
            f"Received: split={split!r}, validation_split={validation_split}"
        )
    return start, count
