"""Parameter and multiply-accumulate (MAC) counts of the reference models.

Run: ``python -m keras_kd.models.complexity`` (prints the table of every builder)
"""

import keras


def count_macs(model):
    """Multiply-accumulates per image of the model's Conv2D, DepthwiseConv2D and
    Dense layers (nested models included); other layers are not counted.

    Args:
        model: a built functional Keras model.

    Returns:
        The number of multiply-accumulates for one image, an int.

    Example:
        ```python
        count_macs(keras_kd.models.resnet8())  # 12.5 million
        ```
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            h, w = layer.output.shape[1:3]
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += h * w * k * layer.input.shape[-1] * layer.depth_multiplier
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += h * w * k * layer.input.shape[-1] * layer.filters // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def main():
    from keras_kd import models

    print(f"{'builder':<22} {'parameters':>12} {'MACs/image':>14}")
    for name in models.BUILDERS:
        model = models.BUILDERS[name]()
        print(f"{name:<22} {model.count_params():>12,} {count_macs(model):>14,}")


if __name__ == "__main__":
    main()
