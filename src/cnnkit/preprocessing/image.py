"""``keras.preprocessing.image``: the image helpers of ``cnnkit.utils``, under the path older Keras code uses."""

from cnnkit.utils.image_utils import array_to_img, img_to_array, load_img, save_img

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
