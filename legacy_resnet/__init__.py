"""legacy-resnet runtime: importing it makes tf-slim work on TensorFlow 2.16.2 to 2.21,
with TensorFlow's oneDNN CPU kernels on whatever the CPU.

The package is built in wings, listed in ``WINGS`` from the bottom up: a module imports
from its own wing and the wings below it, never from one above (tests/test_architecture.py
checks it; docs/architecture.md says what each wing owns).
"""

from legacy_resnet.platform import onednn

onednn.enable_unless_chosen()  # Before compat imports TensorFlow: it reads the variable once.

from legacy_resnet.platform import compat  # noqa: E402,F401  (installs the tf-slim fix on import)

WINGS = ('platform', 'data', 'graph', 'settings', 'checkpointing', 'evaluate', 'train',
         'scale_out', 'serve', 'programs', 'launcher')
