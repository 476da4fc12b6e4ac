"""Distillers: `keras.Model` subclasses whose `train_step` implements a method."""

from keras_kd.distillers.base import Distiller
from keras_kd.distillers.kd import KD

__all__ = ["KD", "Distiller"]
