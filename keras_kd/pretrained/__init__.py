"""Pretrained teachers shipped inside keras_kd (no download).

``cifar10-resnet20``: the CIFAR-10 ResNet-20 (274,042 parameters) trained on
the first 45,000 images of the shared CIFAR-10 split; 82.46% top-1 on its last
5,000 (see ``cifar10-resnet20.json`` next to it for how it was made).
"""

import importlib.resources

import keras

DEFAULT_TEACHER = "cifar10-resnet20"
_SUFFIX = ".keras"


def available_teachers():
    """Returns the names of the shipped teachers, sorted.

    Returns:
        A list of names for `load_teacher`, e.g. ``["cifar10-resnet20"]``.

    Example:
        ```python
        for name in keras_kd.pretrained.available_teachers():
            print(name, keras_kd.pretrained.load_teacher(name).count_params())
        ```
    """
    files = importlib.resources.files(__name__).iterdir()
    return sorted(f.name[: -len(_SUFFIX)] for f in files if f.name.endswith(_SUFFIX))


def load_teacher(name=DEFAULT_TEACHER):
    """Loads a teacher shipped in the package, from any working directory.

    Args:
        name: one of `available_teachers()`, e.g. ``"cifar10-resnet20"``.

    Returns:
        A functional `keras.Model` mapping 32x32x3 images (values 0..255) to
        10 logits.

    Example:
        ```python
        teacher = keras_kd.pretrained.load_teacher()
        distiller = keras_kd.distillers.KD(student=student, teacher=teacher)
        ```
    """
    names = available_teachers()
    if name not in names:
        raise ValueError(f"`name` must be one of {names}. Received: name={name!r}")
    resource = importlib.resources.files(__name__) / f"{name}{_SUFFIX}"
    with importlib.resources.as_file(resource) as path:
        return keras.saving.load_model(path)


__all__ = ["DEFAULT_TEACHER", "available_teachers", "load_teacher"]
