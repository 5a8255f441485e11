"""oneDNN CPU kernels wherever TensorFlow would leave them off.

TensorFlow 2.21 enables its oneDNN kernels by default only on CPUs with AVX-512 VNNI,
BF16 or AMX-class extensions. On CPUs without them (AVX2-only machines, most AMD EPYCs
among them) it falls back to its Eigen kernels, which train and evaluate these ResNets
well under half as fast (bench/README.md). TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS``
once, when it loads, so ``enable_unless_chosen`` must run before TensorFlow is imported;
``import legacy_resnet`` calls it first thing. A value the user set, ``0`` included, is
kept.
"""

import os
import sys

VARIABLE = 'TF_ENABLE_ONEDNN_OPTS'

# Who decided, recorded by enable_unless_chosen: 'user' (the variable was set),
# 'legacy-resnet' (we set it) or 'tensorflow' (TensorFlow had loaded before us).
_decided_by = None


def enable_unless_chosen(environ=None):
  """Sets ``TF_ENABLE_ONEDNN_OPTS=1`` unless the user set it or TensorFlow has loaded.

  Args:
    environ: the environment to change (default: ``os.environ``).

  Returns:
    Who decided the setting: 'user', 'legacy-resnet' or 'tensorflow'.
  """
  global _decided_by
  environ = os.environ if environ is None else environ
  if VARIABLE in environ:
    _decided_by = 'user'
  elif 'tensorflow' in sys.modules:
    _decided_by = 'tensorflow'  # Too late: it has read the variable already.
  else:
    environ[VARIABLE] = '1'
    _decided_by = 'legacy-resnet'
  return _decided_by


def enabled():
  """Whether this process's TensorFlow runs oneDNN kernels (imports TensorFlow)."""
  # TensorFlow has no public API for this; IsMklEnabled reads the same switch its
  # kernel registry does.
  from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
  return bool(_pywrap_util_port.IsMklEnabled())


def describe():
  """One line saying whether oneDNN kernels are on, and who chose it."""
  value = os.environ.get(VARIABLE)
  if _decided_by == 'user':
    why = 'you set %s=%s' % (VARIABLE, value)
  elif _decided_by == 'legacy-resnet':
    why = 'legacy-resnet set %s=1; set it to 0 to turn them off' % VARIABLE
  else:
    why = "TensorFlow's default for this CPU (it was imported before legacy_resnet)"
  return 'oneDNN CPU kernels %s (%s)' % ('on' if enabled() else 'off', why)
