"""legacy-resnet runtime: importing it makes tf-slim work on TensorFlow 2.16.2 to 2.21,
with TensorFlow's oneDNN CPU kernels on whatever the CPU.

``WINGS`` lists the package's wings from the bottom up: a module imports only from its
own wing and those below (tests/test_architecture.py checks it; docs/architecture.md).
The lowest is ``core``, not ``platform``, which would shadow the standard library's
module wherever this folder lands on ``sys.path``.
"""

import importlib
import importlib.util

from legacy_resnet.core import onednn

onednn.enable_unless_chosen()  # Before compat imports TensorFlow: it reads the variable once.

from legacy_resnet.core import compat  # noqa: E402,F401  (installs the tf-slim fix on import)

WINGS = ('core', 'data', 'graph', 'settings', 'checkpointing', 'evaluate', 'train',
         'scale_out', 'serve', 'programs', 'launcher')


def __getattr__(name):
  """A module by its name from before the wings: ``legacy_resnet.compat`` is ``core.compat``."""
  for wing in WINGS:
    if importlib.util.find_spec('legacy_resnet.%s.%s' % (wing, name)):
      return importlib.import_module('legacy_resnet.%s.%s' % (wing, name))
  raise AttributeError('module legacy_resnet has no attribute %r' % name)
