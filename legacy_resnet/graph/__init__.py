"""The TensorFlow graphs built around a network: training (loss, optimizer,
clones), inference, metrics."""
