"""CRD's memory banks of past embeddings, a layer of non-trainable state."""

import math

import keras
import tensorflow as tf


class ContrastMemory(keras.layers.Layer):
    """CRD's state: two (N, d) memory banks and the two normalization constants.

    The banks start uniform in ``[-sqrt(3/d), sqrt(3/d)]`` (rows of about unit
    norm), as the authors' ``ContrastMemory``; the constants start at -1
    (unset) and are estimated on the first applied step. The layer also holds
    the seed of the negatives' sampler. Nothing in it is trainable.
    """

    def __init__(self, num_samples, feat_dim, name="crd_memory"):
        super().__init__(name=name)
        bound = math.sqrt(3.0 / feat_dim)
        uniform = keras.initializers.RandomUniform(-bound, bound)
        shape = (num_samples, feat_dim)
        self.student_memory = self.add_weight(
            shape=shape, initializer=uniform, trainable=False, name="student_memory"
        )
        self.teacher_memory = self.add_weight(
            shape=shape, initializer=uniform, trainable=False, name="teacher_memory"
        )
        # Z of the student side (scores against the teacher memory), then the teacher side.
        self.normalizers = self.add_weight(
            shape=(2,),
            initializer=keras.initializers.Constant(-1.0),
            trainable=False,
            name="normalizers",
        )
        self.seed_generator = keras.random.SeedGenerator(name="negatives_seed")
        self.built = True

    def commit(self, index, student_rows, teacher_rows, normalizers, applied):
        """Writes the batch's new rows and the constants, only where ``applied``."""
        banks = ((self.student_memory, student_rows), (self.teacher_memory, teacher_rows))
        for bank, rows in banks:
            old = tf.gather(bank.value, index)
            new = tf.where(applied, rows, old)
            bank.value.scatter_update(tf.IndexedSlices(new, index))
        self.normalizers.assign(tf.where(applied, normalizers, self.normalizers.value))
