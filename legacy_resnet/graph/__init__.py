"""The TensorFlow graphs built around a network: training, inference, metrics."""
