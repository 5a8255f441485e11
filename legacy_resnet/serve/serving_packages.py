"""The optional serving packages (tf2onnx, onnxruntime, openvino): listed in
requirements-serve.txt, imported only when a flag needs them."""

import importlib
import importlib.util

from legacy_resnet.core.errors import UsageError

INSTALL_COMMAND = 'pip install -r requirements-serve.txt'


def available(module_name):
  return importlib.util.find_spec(module_name) is not None


def require(module_name, needed_by):
  """The imported module, or a UsageError naming ``needed_by`` (a flag) and the
  install command."""
  if not available(module_name):
    raise UsageError('%s needs %s, which is not installed; install it with: %s'
                     % (needed_by, module_name, INSTALL_COMMAND))
  return importlib.import_module(module_name)
