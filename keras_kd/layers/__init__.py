"""Trainable adapters that live in a distiller, never in the exported student."""

from keras_kd.layers.connector import build_connector
from keras_kd.layers.paraphraser import build_paraphraser, build_translator

__all__ = ["build_connector", "build_paraphraser", "build_translator"]
