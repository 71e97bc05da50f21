"""Utilities (Keras' ``keras.utils``): a list of re-exports."""

# image data (data helper)
from cnnkit.data.folder import image_dataset_from_directory  # noqa: F401
from cnnkit.utils.image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401
