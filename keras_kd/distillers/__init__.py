"""Distillers: `keras.Model` subclasses whose `train_step` implements a method."""

from keras_kd.distillers.activation_boundary import ActivationBoundary
from keras_kd.distillers.attention import AttentionTransfer
from keras_kd.distillers.base import Distiller
from keras_kd.distillers.born_again import BornAgain
from keras_kd.distillers.byot import BYOT
from keras_kd.distillers.factor_transfer import FactorTransfer
from keras_kd.distillers.fitnet import FitNet
from keras_kd.distillers.fsp import FSP
from keras_kd.distillers.kd import KD
from keras_kd.distillers.mutual import DeepMutualLearning
from keras_kd.distillers.nst import NST
from keras_kd.distillers.one import ONE
from keras_kd.distillers.rkd import RKD

__all__ = [
    "BYOT",
    "FSP",
    "KD",
    "NST",
    "ONE",
    "RKD",
    "ActivationBoundary",
    "AttentionTransfer",
    "BornAgain",
    "DeepMutualLearning",
    "Distiller",
    "FactorTransfer",
    "FitNet",
]
