"""Layers that live in a distiller, never in the exported student: trainable
adapters and the state of methods that keep one (CRD's memory)."""

from keras_kd.layers.connector import build_connector
from keras_kd.layers.contrast_memory import ContrastMemory
from keras_kd.layers.paraphraser import build_paraphraser, build_translator

__all__ = ["ContrastMemory", "build_connector", "build_paraphraser", "build_translator"]
