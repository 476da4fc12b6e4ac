"""The MLPerf Tiny image-classification reference model (ResNet-8, CIFAR-10).

Banbury et al., "MLPerf Tiny Benchmark" (NeurIPS Datasets and Benchmarks
2021): a 3x3 conv stem of 16 filters and three residual stacks of 16, 32 and
64 filters (the last two strided, with 1x1 projection shortcuts), global
average pooling and a dense classifier: 78,714 parameters, about 96 KB as
int8 TFLite. It is the CIFAR ResNet-8 of `keras_kd.models.resnet`.
"""

from keras_kd.models.resnet import cifar_resnet


def mlperf_tiny_resnet8(num_classes=10, input_shape=(32, 32, 3), weight_decay=0.0):
    """Builds the MLPerf Tiny ResNet-8 with the CIFAR ResNet taps: 78,714
    parameters, 12.5M multiply-accumulates per image (10 classes;
    `python -m keras_kd.models.complexity`).

    Taps: ``stem``, ``stage1``..``stage3`` (after ReLU), ``stage{i}_preact``
    (before ReLU), ``pool`` and ``logits``. Takes raw RGB images (0..255).

    Args:
        num_classes: number of output logits.
        input_shape: image shape, channels last.
        weight_decay: L2 coefficient on the conv kernels (0 disables it).

    Returns:
        A functional `keras.Model` named ``mlperf_tiny_resnet8`` returning logits.

    Example:
        ```python
        student = keras_kd.models.mlperf_tiny_resnet8()
        distiller = keras_kd.distillers.KD(student=student, teacher=teacher)
        ```

    Reference:
        Banbury et al., "MLPerf Tiny Benchmark", NeurIPS Datasets and
        Benchmarks 2021.
    """
    return cifar_resnet(
        8,
        num_classes=num_classes,
        input_shape=input_shape,
        weight_decay=weight_decay,
        name="mlperf_tiny_resnet8",
    )
