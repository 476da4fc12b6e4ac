"""Checks of what `to_tflite` is given, made before anything is converted.

Images of another shape than the model's input would calibrate int8 on the
wrong statistics or fail deep inside Keras; labels that do not pair with the
images would fail in NumPy. Each is refused here with the argument's name.

An integer input (token ids, e.g. ``keras.Input((20,), dtype="int32")`` before
an ``Embedding``) keeps its integer dtype: its data is read as integers, and
values that are not whole numbers are refused (a float32 token id would be
quantized and map to other ids).

A model with several inputs (a list or a dict of inputs) takes x as a list or
tuple of arrays, matched to its inputs by position, or as a dict keyed by
input name; each input is checked against its own shape and named when refused.
"""

import numbers
import os
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

REPRESENTATIVE_SAMPLES = 200
IMAGE_RANK = 3  # height, width, channels


def input_shape(model):
    """The model's input shape without the batch axis, e.g. ``(32, 32, 3)``."""
    return tuple(model.inputs[0].shape[1:])


class InputSpec(NamedTuple):
    """One model input: its name, its shape without the batch axis, whether
    the model takes it from a dict (then only by name, never by position),
    and its dtype (``"float32"``, or an integer dtype such as ``"int32"`` for
    token ids)."""

    name: str
    shape: tuple
    by_name: bool = False
    dtype: str = "float32"

    @property
    def integer(self):
        """Whether the input takes integers (token ids), which are never quantized."""
        return np.dtype(self.dtype).kind in "iu"


def input_dtype(tensor):
    """The dtype an input is fed in: integer and bool inputs keep theirs, any
    float input is fed float32 (a float16 model is exported as float32)."""
    name = str(tensor.dtype)
    return name if name.startswith(("int", "uint")) or name == "bool" else "float32"


def as_input_array(x, dtype, name, input_name=None):
    """``x`` as an array of ``dtype``; for an integer dtype, refuses values that
    are not whole numbers instead of truncating them."""
    x = np.asarray(x)
    if np.dtype(dtype).kind not in "iub" or x.dtype.kind in "iub":
        return x.astype(dtype)
    if not np.all(np.isfinite(x) & (x == np.round(x))):
        which = f"input {input_name!r}" if input_name else "x"
        raise ValueError(
            f"`{name}` {which} must hold integers (the model's input is {dtype}, e.g. token "
            f"ids). Received: {name} with {which} of dtype {x.dtype} holding non-integer values"
        )
    return x.astype(dtype)


def input_specs(model):
    """The model's inputs as `InputSpec` tuples, in ``model.inputs`` order.

    A model built on a dict of inputs names each input by its key, and takes
    x only as a dict (as Keras, which refuses a list whose order it cannot
    tell); any other model names each input by the input tensor's name.

    Raises:
        ValueError: inputs nested deeper than one list or one dict.
    """
    tensors = list(model.inputs)
    names = [tensor.name for tensor in tensors]
    by_name = False
    if len(tensors) > 1:
        struct = model.input
        flat = isinstance(struct, dict | list | tuple) and all(
            isinstance(tensor, keras.KerasTensor)
            for tensor in (struct.values() if isinstance(struct, dict) else struct)
        )
        if not flat:
            raise ValueError(
                "Export supports models whose input is one tensor, a list of tensors or a dict "
                f"of tensors. Received: model={model.name!r} with inputs {struct}"
            )
        if isinstance(struct, dict):
            key_of = {id(tensor): key for key, tensor in struct.items()}
            names = [key_of.get(id(tensor), tensor.name) for tensor in tensors]
            by_name = True
    return [
        InputSpec(name, tuple(tensor.shape[1:]), by_name, input_dtype(tensor))
        for name, tensor in zip(names, tensors, strict=True)
    ]


def model_inputs(specs, arrays):
    """``arrays`` (one per entry of ``specs``, the model's `input_specs`) in the
    structure the model is called on: one array, a list, or a dict by name."""
    if len(arrays) == 1:
        return arrays[0]
    if specs[0].by_name:
        return {spec.name: array for spec, array in zip(specs, arrays, strict=True)}
    return list(arrays)


def fits(shape, expected):
    """Whether an image ``shape`` fits a model input shape (None matches any size)."""
    return len(shape) == len(expected) and all(
        want is None or got == want for got, want in zip(shape, expected, strict=True)
    )


def _check_shape(name, shape, expected):
    if not fits(tuple(shape), expected):
        raise ValueError(
            f"`{name}` images must have the model's input shape {expected} (without the "
            f"batch axis). Received: {name} with images of shape {tuple(shape)}"
        )


def check_path(path):
    """Refuses an output ``path`` that is an existing folder."""
    if os.path.isdir(path):
        raise ValueError(
            f"`path` must be the .tflite file to write, not a folder. Received: path={str(path)!r}"
        )


def check_samples_count(check_samples):
    """Returns ``check_samples`` if it is None or an integer >= 1, else raises."""
    if check_samples is None:
        return None
    if (
        isinstance(check_samples, bool)
        or not isinstance(check_samples, numbers.Integral)
        or check_samples < 1
    ):
        raise ValueError(
            "`check_samples` must be an integer >= 1, or None for all of `check_data`. "
            f"Received: check_samples={check_samples!r}"
        )
    return int(check_samples)


def _images(data, rank, dtype="float32"):
    """Yields single images (of ``rank`` axes when unbatched) of ``dtype`` from
    arrays, (x, y) pairs or datasets, batched or not."""
    if isinstance(data, tf.data.Dataset):
        for element in data:
            x = element[0] if isinstance(element, tuple | list) else element
            x = as_input_array(x, dtype, "representative_data")
            yield from (x[None] if x.ndim == rank else x)
    else:
        x = data[0] if isinstance(data, tuple | list) else data
        yield from as_input_array(x, dtype, "representative_data")


def representative_images(data, shape=None, limit=REPRESENTATIVE_SAMPLES, dtype="float32"):
    """Up to ``limit`` calibration images as a (N, ...) array of ``dtype``.

    Args:
        data: an array of images, an (x, y) pair or a dataset.
        shape: the model's input shape; images of another shape are refused.
        limit: the most images to take.
        dtype: the model input's dtype (`InputSpec.dtype`): float32, or an
            integer dtype for token ids, which stay integers.
    """
    images = []
    for image in _images(data, IMAGE_RANK if shape is None else len(shape), dtype):
        if shape is not None:
            _check_shape("representative_data", image.shape, shape)
        images.append(image)
        if len(images) == limit:
            break
    if not images:
        raise ValueError(
            "`representative_data` must contain at least one image. Received: an empty dataset"
        )
    return np.stack(images)


def _pair(x, y, what, dtype="float32"):
    x, y = as_input_array(x, dtype, "check_data"), np.asarray(y)
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(
            "`check_data` must pair each image with one label (the same number of both). "
            f"Received: check_data with {len(x)} images and "
            f"{'a scalar' if y.ndim == 0 else len(y)} labels{what}"
        )
    return x, y


def labelled(check_data, shape, limit=None, dtype="float32"):
    """``(images, labels, weights)`` arrays from (x, y) or (x, y, sample_weight)
    arrays or a dataset of them (`keras_kd.labels.label_indices` reads the labels).

    Args:
        check_data: an (x, y) pair of arrays or a dataset of (x, y) pairs,
            batched or not; labels are class indices or one-hot rows. A third
            entry, sample weights per sample or per position, leaves the
            samples or positions of weight 0 (padding) out of the check.
        shape: the model's input shape; images of another shape are refused.
        limit: keep the first ``limit`` samples (None: all).
        dtype: the model input's dtype (float32, or an integer dtype for token ids).

    Returns:
        ``(x, y, weights)``; ``weights`` is None without sample weights.
    """
    if isinstance(check_data, tf.data.Dataset):
        xs, ys, ws = [], [], []
        for element in check_data:
            if not isinstance(element, tuple | list) or len(element) not in (2, 3):
                raise ValueError(
                    "`check_data` must be a dataset of (images, labels) pairs or (images, "
                    "labels, sample weights) triples. Received: check_data with elements of "
                    f"type {type(element).__name__}"
                )
            x, y = as_input_array(element[0], dtype, "check_data"), np.asarray(element[1])
            w = np.asarray(element[2], "float32") if len(element) == 3 else None
            if x.ndim == len(shape):  # an unbatched element
                x, y, w = x[None], y[None], None if w is None else w[None]
            x, y = _pair(x, y, " in one batch", dtype)
            xs.append(x)
            ys.append(y)
            ws.append(w)
            if limit is not None and sum(len(b) for b in xs) >= limit:
                break
        if not xs:
            raise ValueError("`check_data` must not be empty. Received: an empty dataset")
        x, y = np.concatenate(xs), np.concatenate(ys)
        w = None if ws[0] is None else np.concatenate(ws)
    elif isinstance(check_data, tuple | list) and len(check_data) in (2, 3):
        x, y = _pair(*check_data[:2], "", dtype)
        w = np.asarray(check_data[2], "float32") if len(check_data) == 3 else None
    else:
        raise ValueError(
            "`check_data` must be an (images, labels) pair, an (images, labels, sample "
            "weights) triple or a dataset of them. Received: check_data of type "
            f"{type(check_data).__name__}"
        )
    _check_shape("check_data", x.shape[1:], shape)
    if w is not None and (w.shape != y.shape[: w.ndim] or not np.all(w >= 0)):
        raise ValueError(
            "`check_data`'s sample weights must be non-negative, one per sample or per "
            f"position of the labels {y.shape}. Received: sample weights of shape {w.shape}"
        )
    return x[:limit], y[:limit], None if w is None else w[:limit]


def _names(specs):
    return [spec.name for spec in specs]


def _split(element, specs, name, pair):
    """``(x, y)`` of data or of a dataset element, for a model with several inputs.

    With ``pair`` (check data) the element must be an ``(x, y, ...)`` pair.
    Otherwise a dict is x, so is a list or tuple of arrays, and a list or
    tuple whose first item is a list, tuple or dict is ``(x, y, ...)``.
    """
    if pair:
        if not isinstance(element, tuple | list) or len(element) < 2:
            raise ValueError(
                f"`{name}` must pair x (the model's {len(specs)} inputs {_names(specs)}) "
                "with labels: an (x, y) pair or a dataset of pairs. Received: "
                f"{name} with elements of type {type(element).__name__}"
            )
        return element[0], element[1]
    if isinstance(element, tuple | list) and element:
        if isinstance(element[0], tuple | list | dict):
            return element[0], None
    return element, None


def _arrays(x, specs, name):
    """x (a list/tuple or dict of arrays) as arrays in the model's input order, each
    of its input's dtype (float32, or integer for token ids)."""
    names = _names(specs)
    if isinstance(x, dict):
        if sorted(x) != sorted(names):
            raise ValueError(
                f"`{name}` must give x as a dict keyed by the model's input names {names}. "
                f"Received: {name} with keys {sorted(x)}"
            )
        x = [x[input_name] for input_name in names]
    elif not isinstance(x, tuple | list):
        raise ValueError(
            f"`{name}` must give the model's {len(specs)} inputs {names} as a list or tuple "
            "of arrays (matched by position) or a dict of arrays keyed by input name. "
            f"Received: {name} with x of type {type(x).__name__}"
        )
    elif specs[0].by_name:
        raise ValueError(
            f"`{name}` must give x as a dict keyed by the model's input names {names}: the "
            "model takes its inputs as a dict, by name, not by position. Received: "
            f"{name} with x as a {type(x).__name__} of {len(x)} arrays"
        )
    elif len(x) != len(specs):
        raise ValueError(
            f"`{name}` must give x as {len(specs)} arrays, one per model input {names} in "
            f"that order (or a dict keyed by input name). Received: {name} with {len(x)} arrays"
        )
    return [
        as_input_array(array, spec.dtype, name, spec.name)
        for array, spec in zip(x, specs, strict=True)
    ]


def _check_inputs(name, arrays, specs):
    """Refuses an input of another shape than the model's, or inputs of several lengths."""
    for array, spec in zip(arrays, specs, strict=True):
        if array.ndim == 0 or not fits(array.shape[1:], spec.shape):
            raise ValueError(
                f"`{name}` input {spec.name!r} must have the model's input shape {spec.shape} "
                f"(without the batch axis). Received: {name} with input {spec.name!r} of "
                f"shape {array.shape[1:]}"
            )
    lengths = {spec.name: len(array) for spec, array in zip(specs, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"`{name}` must give every input the same number of samples. Received: {name} "
            f"with {', '.join(f'{count} for {n!r}' for n, count in lengths.items())}"
        )


def _elements(data, specs, name, pair=False):
    """Yields ``(arrays, y)`` per dataset element (once for arrays), checked."""
    for element in data if isinstance(data, tf.data.Dataset) else [data]:
        x, y = _split(element, specs, name, pair)
        arrays = _arrays(x, specs, name)
        if isinstance(data, tf.data.Dataset) and arrays[0].ndim == len(specs[0].shape):
            # an unbatched element
            arrays = [array[None] for array in arrays]
            y = None if y is None else np.asarray(y)[None]
        _check_inputs(name, arrays, specs)
        yield arrays, y


def representative_inputs(data, specs, limit=REPRESENTATIVE_SAMPLES):
    """Up to ``limit`` calibration samples as one (N, ...) array per model input
    (float32, or the input's integer dtype for token ids).

    Args:
        data: for one input, what `representative_images` takes; for several,
            x (a list/tuple of arrays by position, or a dict by input name; a
            dict-input model takes a dict only), an ``(x, y)`` pair, or a
            dataset of either, batched or not.
        specs: the model's `input_specs`; inputs of another shape are refused.
        limit: the most samples to take.

    Returns:
        A list of arrays, in ``specs`` order.
    """
    if len(specs) == 1:
        return [representative_images(data, specs[0].shape, limit, specs[0].dtype)]
    batches, count = [], 0
    for arrays, _ in _elements(data, specs, "representative_data"):
        batches.append(arrays)
        count += len(arrays[0])
        if count >= limit:
            break
    if count == 0:
        raise ValueError(
            "`representative_data` must contain at least one sample. Received: an empty dataset"
        )
    return [np.concatenate(parts)[:limit] for parts in zip(*batches, strict=True)]


def labelled_inputs(check_data, specs, limit=None):
    """``(inputs, labels)``: one array per model input (float32, or the input's
    integer dtype) and the labels.

    Args:
        check_data: for one input, what `labelled` takes; for several, an
            ``(x, y)`` pair whose x is a list/tuple of arrays (by position) or
            a dict of arrays (by input name; a dict-input model takes a dict
            only), or a dataset of such pairs, batched or not.
        specs: the model's `input_specs`; inputs of another shape are refused.
        limit: keep the first ``limit`` samples (None: all).

    Returns:
        ``(list of arrays in specs order, labels array, weights)``: ``weights``
        are the one-input case's sample weights (`labelled`), else None.
    """
    if len(specs) == 1:
        x, y, weights = labelled(check_data, specs[0].shape, limit, specs[0].dtype)
        return [x], y, weights
    if not isinstance(check_data, tf.data.Dataset | tuple | list):
        raise ValueError(
            "`check_data` must be an (x, y) pair or a dataset of pairs. "
            f"Received: check_data of type {type(check_data).__name__}"
        )
    batches, ys, count = [], [], 0
    for arrays, y in _elements(check_data, specs, "check_data", pair=True):
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(arrays[0]):
            raise ValueError(
                "`check_data` must pair each sample with one label (the same number of both). "
                f"Received: check_data with {len(arrays[0])} samples and "
                f"{'a scalar' if y.ndim == 0 else len(y)} labels"
            )
        batches.append(arrays)
        ys.append(y)
        count += len(y)
        if limit is not None and count >= limit:
            break
    if count == 0:
        raise ValueError("`check_data` must not be empty. Received: an empty dataset")
    inputs = [np.concatenate(parts)[:limit] for parts in zip(*batches, strict=True)]
    return inputs, np.concatenate(ys)[:limit], None
