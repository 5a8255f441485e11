"""The optional serving packages of requirements-serve.txt, imported only when needed."""

import importlib
import importlib.util

from legacy_resnet.core.errors import SettingError

INSTALL_COMMAND = 'pip install -r requirements-serve.txt'


def available(module_name):
  return importlib.util.find_spec(module_name) is not None


def require(module_name, needed_by):
  """The imported module, or a SettingError naming ``needed_by`` (a setting and maybe
  its value: '{runtime} openvino') and the install command."""
  if not available(module_name):
    raise SettingError(needed_by + ' needs %s, which is not installed; install it with: %s',
                       module_name, INSTALL_COMMAND)
  return importlib.import_module(module_name)
