"""oneDNN CPU kernels wherever TensorFlow 2.21 would leave them off (CPUs without AVX-512 VNNI,
BF16 or AMX, where its Eigen kernels train these ResNets well under half as fast). TensorFlow
reads ``TF_ENABLE_ONEDNN_OPTS`` once, so ``import legacy_resnet`` calls ``enable_unless_chosen``
first."""

import os
import sys

VARIABLE = 'TF_ENABLE_ONEDNN_OPTS'

_decided_by = None  # What enable_unless_chosen returned.


def enable_unless_chosen(environ=None):
  """Sets ``TF_ENABLE_ONEDNN_OPTS=1`` in ``environ`` (default ``os.environ``) unless the
  user set it (``0`` included) or TensorFlow has loaded; returns who decided the setting:
  'user', 'legacy-resnet' or 'tensorflow'."""
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
  # No public API: IsMklEnabled reads the same switch TensorFlow's kernel registry does.
  from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
  return bool(_pywrap_util_port.IsMklEnabled())


def describe():
  """One line saying whether oneDNN kernels are on, and who chose it."""
  why = {'user': 'you set %s=%s' % (VARIABLE, os.environ.get(VARIABLE)),
         'legacy-resnet': 'legacy-resnet set %s=1; set it to 0 to turn them off' % VARIABLE}.get(
             _decided_by, "TensorFlow's default for this CPU (it was imported before legacy_resnet)")
  return 'oneDNN CPU kernels %s (%s)' % ('on' if enabled() else 'off', why)
