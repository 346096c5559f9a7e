"""The baseline cell of the default study written the way the studies' notebooks did it.

Plain Keras, no ablate code: image_dataset_from_directory over the split folders, the
same small convnet and Adam, ModelCheckpoint on val_loss. Used by train_overhead.py.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from keras import layers

parser = argparse.ArgumentParser()
parser.add_argument("split_dir")
parser.add_argument("checkpoint")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--image-size", type=int, default=32)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

keras.utils.set_random_seed(args.seed)
size = (args.image_size, args.image_size)
train = keras.utils.image_dataset_from_directory(
    f"{args.split_dir}/train", image_size=size, color_mode="grayscale",
    batch_size=args.batch_size, seed=args.seed,
)  # fmt: skip
validation = keras.utils.image_dataset_from_directory(
    f"{args.split_dir}/validation", image_size=size, color_mode="grayscale",
    batch_size=args.batch_size, shuffle=False,
)  # fmt: skip

inputs = keras.Input(shape=(*size, 1))
x = layers.Rescaling(1.0 / 255)(inputs)
for filters in (16, 32, 64):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
x = layers.Flatten()(x)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(len(train.class_names), activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(0.001),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    train,
    validation_data=validation,
    epochs=args.epochs,
    callbacks=[keras.callbacks.ModelCheckpoint(args.checkpoint, save_best_only=True)],
    verbose=2,
)
