"""The classic Keras tutorial CNN, with `tensorflow.keras` replaced by `cnnkit` and nothing else changed.

Run: python examples/tutorial_cnn.py   (about a minute on a 2-core CPU)

The tutorial's cats and dogs need a download; here the same model learns a real two-class problem that ships
with the machine: Fashion-MNIST sneakers vs ankle boots, upscaled to the tutorial's 64x64x3 inputs.
"""

from cnnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D
from cnnkit.models import Sequential

model = Sequential([
    Conv2D(32, (3, 3), activation='relu', input_shape=(64, 64, 3)),
    MaxPooling2D(pool_size=(2, 2)),
    Conv2D(64, (3, 3), activation='relu'),
    MaxPooling2D(pool_size=(2, 2)),
    Flatten(),
    Dense(128, activation='relu'),
    Dense(1, activation='sigmoid')  # Output: cat or dog
])
model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
model.summary()

if __name__ == "__main__":
    import numpy as np
    import torch

    from cnnkit.datasets import fashion_mnist
    from cnnkit.utils import set_random_seed

    set_random_seed(0)

    def two_classes(x, y, per_class):
        keep = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in (7, 9)])  # sneaker, ankle boot
        images = torch.from_numpy(x[keep]).float()[:, None] / 255.0
        images = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
        return images.permute(0, 2, 3, 1).repeat(1, 1, 1, 3).numpy(), (y[keep] == 9).astype("float32")

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train, y_train = two_classes(x_train, y_train, per_class=1000)
    x_test, y_test = two_classes(x_test, y_test, per_class=500)
    model.fit(x_train, y_train, batch_size=32, epochs=2, validation_split=0.1, shuffle=True)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy on {len(x_test)} held-out images (sneaker vs ankle boot): {accuracy:.4f}")
