"""Model zoo: Keras-style builders, pretrained weights and converters (filled in below)."""
