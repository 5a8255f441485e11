"""legacy-resnet-run: a TF1 / tf-slim program run unchanged on TensorFlow 2."""
