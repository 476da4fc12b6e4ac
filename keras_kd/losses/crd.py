"""CRD: the NCE objective of contrastive representation distillation, on memory banks.

Notation: ``e`` an l2-normalized embedding (batch, d); ``M`` a memory bank of
past embeddings, one row per training sample (N, d); ``indices`` (batch, K + 1)
the rows each sample is contrasted with, the sample's own row first (the
positive), then K negatives.
"""

import tensorflow as tf

from keras_kd._checks import positive_float, positive_int

NCE_EPSILON = 1e-7  # the authors' guard in the NCE denominators


def normalize_embedding(x):
    """Flattens each sample and divides it by its l2 norm: ``e = x / ||x||``.

    Args:
        x: (batch, ...) features (a linear embedding's outputs in CRD).

    Returns:
        float32 (batch, features) rows of unit norm (`tf.math.l2_normalize`:
        a zero row stays zero where the authors' division gives NaN).

    Example:
        ```python
        e = normalize_embedding(dense(features))
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR 2020.
    """
    x = tf.cast(x, tf.float32)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.math.l2_normalize(x, axis=-1)


def contrast_scores(embedding, memory, indices, temperature=0.07):
    """Unnormalized NCE scores of each sample against memory rows.

    ``scores[b, k] = exp(<M[indices[b, k]], e[b]> / T)``. The memory is not
    differentiated (it is a constant of the step); the embedding is. The dot
    products are taken against the whole bank (one (batch, N) matrix product)
    and then gathered, which is much faster on CPUs than gathering
    batch x (K + 1) rows of the bank.

    Args:
        embedding: (batch, d) l2-normalized embeddings.
        memory: (N, d) memory bank.
        indices: (batch, K + 1) int rows of ``memory``, the positive first.
        temperature: T (``nce_t``, 0.07 in the paper).

    Returns:
        float32 (batch, K + 1) scores.

    Example:
        ```python
        scores = contrast_scores(e_student, teacher_memory, indices)
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR
        2020; RepDistiller ``crd/memory.py`` (``ContrastMemory.forward``).
    """
    temperature = positive_float("temperature", temperature)
    memory = tf.stop_gradient(tf.cast(memory, tf.float32))
    embedding = tf.cast(embedding, tf.float32)
    indices = tf.cast(indices, tf.int32)
    dots = tf.matmul(embedding, memory, transpose_b=True)  # (batch, N)
    rows = tf.shape(dots)[1] * tf.range(tf.shape(indices)[0])[:, None]
    picked = tf.gather(tf.reshape(dots, [-1]), indices + rows)
    return tf.exp(picked / temperature)


def contrast_normalizer(scores, num_samples):
    """The normalization constant Z, estimated as the authors do on the first batch.

    ``Z = N * mean(scores)``, so that ``scores / Z`` approximates the
    probability of each pair under a softmax over all N memory rows. The
    authors set Z once, on the first batch, and keep it for the whole run.

    Args:
        scores: (batch, K + 1) `contrast_scores`.
        num_samples: N, the number of rows of the memory bank.

    Returns:
        A float32 scalar (not differentiated).

    Example:
        ```python
        z = contrast_normalizer(scores, num_samples=50_000)
        ```

    Reference:
        RepDistiller ``crd/memory.py`` (``params[2]``, ``params[3]``).
    """
    num_samples = positive_int("num_samples", num_samples)
    return tf.stop_gradient(tf.reduce_mean(tf.cast(scores, tf.float32)) * float(num_samples))


def contrast_loss(probabilities, num_samples):
    """The NCE loss of CRD on one side's normalized scores (the paper's Eq. 18).

    With ``P = scores / Z`` (batch, K + 1), the positive in column 0, K
    negatives, and the uniform noise probability ``Pn = 1 / N``:

    ``loss = -(1/B) * sum_b [log(P[b,0] / (P[b,0] + K Pn + eps))
    + sum_{k>=1} log(K Pn / (P[b,k] + K Pn + eps))]``, ``eps = 1e-7``
    (the authors' guard).

    Args:
        probabilities: (batch, K + 1) normalized scores.
        num_samples: N, the size of the training set (the memory's rows).

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = contrast_loss(scores / z, num_samples=50_000)
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR
        2020, Eq. 18; RepDistiller ``crd/criterion.py`` (``ContrastLoss``).
    """
    num_samples = positive_int("num_samples", num_samples)
    p = tf.cast(probabilities, tf.float32)
    negatives = p.shape[-1] - 1
    noise = negatives / float(num_samples)
    positive = tf.math.log(p[:, 0] / (p[:, 0] + noise + NCE_EPSILON))
    negative = tf.math.log(noise / (p[:, 1:] + noise + NCE_EPSILON))
    batch = tf.cast(tf.shape(p)[0], tf.float32)
    return -(tf.reduce_sum(positive) + tf.reduce_sum(negative)) / batch


def memory_update(rows, embeddings, momentum=0.5):
    """The momentum update of the memory rows of a batch's samples.

    ``M[i] <- normalize(m * M[i] + (1 - m) * e_i)`` with ``normalize`` the
    division by the l2 norm: the updated rows have unit norm.

    Args:
        rows: (batch, d) the samples' current memory rows.
        embeddings: (batch, d) their new l2-normalized embeddings.
        momentum: m in [0, 1) (0.5 in the authors' code).

    Returns:
        float32 (batch, d) new rows (not differentiated).

    Example:
        ```python
        new_rows = memory_update(tf.gather(memory, index), e, momentum=0.5)
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR
        2020; RepDistiller ``crd/memory.py`` (``ContrastMemory.forward``).
    """
    if isinstance(momentum, bool) or not isinstance(momentum, int | float) or not 0 <= momentum < 1:
        raise ValueError(f"`momentum` must be a float in [0, 1). Received: momentum={momentum!r}")
    rows, embeddings = tf.cast(rows, tf.float32), tf.cast(embeddings, tf.float32)
    mixed = momentum * rows + (1.0 - momentum) * embeddings
    return tf.stop_gradient(tf.math.l2_normalize(mixed, axis=-1))


def crd_loss(
    teacher_embedding,
    student_embedding,
    teacher_memory,
    student_memory,
    indices,
    num_samples,
    temperature=0.07,
    teacher_normalizer=None,
    student_normalizer=None,
):
    """CRD's contrastive loss, both sides: ``contrast_loss(S_s) + contrast_loss(S_t)``.

    - student side: ``S_s = contrast_scores(e_s, M_t, indices, T) / Z_s``, the
      student's embedding against the teacher's memory;
    - teacher side: ``S_t = contrast_scores(e_t, M_s, indices, T) / Z_t``, the
      teacher's embedding against the student's memory.

    A normalizer left None is estimated on this batch (`contrast_normalizer`),
    as the authors do on their first batch.

    Args:
        teacher_embedding: (batch, d) l2-normalized teacher embeddings.
        student_embedding: (batch, d) l2-normalized student embeddings.
        teacher_memory: (N, d) memory of past teacher embeddings.
        student_memory: (N, d) memory of past student embeddings.
        indices: (batch, K + 1) memory rows, each sample's own index first.
        num_samples: N.
        temperature: T (0.07 in the paper).
        teacher_normalizer: Z_t, or None to estimate it.
        student_normalizer: Z_s, or None to estimate it.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = crd_loss(e_t, e_s, memory_t, memory_s, indices, num_samples=50_000)
        ```

    Reference:
        Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR
        2020; RepDistiller ``crd/criterion.py`` (``CRDLoss``).
    """
    total = 0.0
    sides = (
        (student_embedding, teacher_memory, student_normalizer),
        (teacher_embedding, student_memory, teacher_normalizer),
    )
    for embedding, memory, normalizer in sides:
        scores = contrast_scores(embedding, memory, indices, temperature)
        if normalizer is None:
            normalizer = contrast_normalizer(scores, num_samples)
        total += contrast_loss(scores / normalizer, num_samples)
    return total
