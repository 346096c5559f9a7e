"""Getting the images: sources, archives, TFDS export, labels, split, decoded arrays and
the tf.data input."""
