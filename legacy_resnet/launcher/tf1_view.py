"""``import tensorflow as tf`` in a program's own code (every module outside the standard
library, site-packages, legacy_resnet and nets) gives ``tf.compat.v1`` with ``contrib``'s
``tf.contrib``. A hook on ``builtins.__import__``, not a finder: ``tensorflow`` is loaded
already, so its imports never reach the finders, and only the hook learns who imports."""

import builtins
import os
import site
import sys
import sysconfig
import types

import tensorflow as tf

import legacy_resnet
from legacy_resnet.launcher import contrib


def _v1_attribute(name):
  if name.startswith('__'):  # The view is no package: no __path__, __file__ ... of v1's.
    raise AttributeError(name)
  return getattr(tf.compat.v1, name)


view = types.ModuleType('tensorflow', "TensorFlow 1's API (tf.compat.v1), with tf.contrib.")
view.__getattr__ = _v1_attribute
view.__version__ = tf.__version__
view.contrib = contrib.package
view.compat = tf.compat  # So that `import tensorflow.compat.v1` is the very module.


def resolve(name):
  """What ``import name`` ('tensorflow' or 'tensorflow.a.b') binds in the program's code
  for the module ``name``, or None when it is not in the view (tensorflow.python ...)."""
  found = view
  names = name.split('.')[1:]
  if names and names[0] == 'contrib':
    return contrib.lookup(names[1:])
  for part in names:
    found = getattr(found, part, None)
    if found is None:
      return None
  return found


def _library_folders():
  """The folders whose code keeps getting TensorFlow itself, each ending in a separator."""
  folders = {sysconfig.get_path(kind) for kind in ('stdlib', 'platstdlib', 'purelib', 'platlib')}
  folders.update(site.getsitepackages())
  folders.add(site.getusersitepackages())
  project = os.path.dirname(os.path.abspath(legacy_resnet.__file__))
  folders.update((project, os.path.join(os.path.dirname(project), 'nets')))  # nets ships beside it
  return tuple(os.path.join(os.path.realpath(folder), '') for folder in folders if folder)


_LIBRARIES = _library_folders()
_is_program_file = {}  # file -> whether it is the program's own code


def is_programs(module_globals):
  """Whether the module with these globals is the program's own code."""
  path = (module_globals or {}).get('__file__')
  if not path:
    return False
  if path not in _is_program_file:
    _is_program_file[path] = not os.path.realpath(path).startswith(_LIBRARIES)
  return _is_program_file[path]


_real_import = builtins.__import__


def _import(name, globals=None, locals=None, fromlist=(), level=0):
  """``builtins.__import__``, but ``tensorflow`` names in the program's code come from the view."""
  if level == 0 and name.partition('.')[0] == 'tensorflow' and is_programs(globals):
    found = resolve(name)
    if found is not None:
      if not fromlist:
        return view
      if hasattr(found, '__path__') and sys.modules.get(found.__name__) is found:
        # A real package: the submodules ``from ... import`` names, imported as the statement does.
        return _real_import(found.__name__, None, None, fromlist, 0)
      return found
  return _real_import(name, globals, locals, fromlist, level)


def install():
  """Puts the hook in place. Safe to call repeatedly."""
  builtins.__import__ = _import
