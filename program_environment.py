"""What train_graph.py and eval_graph.py set in the environment before anything imports
TensorFlow, which reads these variables once, when it loads. Importing this module
imports nothing of TensorFlow's."""

import os


def prepare(argv):
  """Sets the environment for a program run with the command line ``argv``."""
  if '--verbose' in argv:
    os.environ['LEGACY_RESNET_VERBOSE'] = '1'
  else:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  # No tf.keras here: TensorFlow then loads tf-keras, which tf-slim needs anyway, instead
  # of Keras 3 (and matplotlib through it) at start-up.
  os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
  if '--xla' in argv:  # XLA on the CPU is read before the first session.
    os.environ['TF_XLA_FLAGS'] = (os.environ.get('TF_XLA_FLAGS', '') +
                                  ' --tf_xla_cpu_global_jit').strip()
