"""Stand-ins for the ``tensorflow.contrib`` modules slim-era programs import, for ``tf1_view``:
what tf-slim 1.1.0 and ``tf.compat.v1`` still offer, under its old name. Anything else is a
``Missing``, which imports (so a program whose other paths run still starts) but raises
``Unavailable`` when called. Nothing here is imported until a program asks for it."""

import importlib
import types

from legacy_resnet.core.cli import EXIT_USAGE

# tensorflow.contrib.<name> that is a module of today's packages, as it is.
MODULES = {'slim': 'tf_slim'}

# tensorflow.contrib.<name> -> (module, names) searched in order for each attribute;
# names None: every public name of the module (its __all__ when it has one).
STAND_INS = {
    'framework': (('tf_slim.ops.arg_scope', None), ('tf_slim.ops.variables', None),
                  ('tensorflow.compat.v1.train', ('init_from_checkpoint', 'list_variables',
                                                  'load_checkpoint', 'load_variable')),
                  ('tensorflow', ('nest', 'sort', 'argsort'))),
    'layers': (('tf_slim.layers', None),),
    'training': (('tf_slim.training.training', None), ('tf_slim.training.evaluation', None)),
    'metrics': (('tf_slim.metrics', None),),
    'losses': (('tf_slim.losses', None),),
}

# tensorflow.contrib.<name> that has no TensorFlow 2 counterpart -> what it did.
UNAVAILABLE = {'quantize': 'quantization-aware training'}


class Unavailable(SystemExit):
  """A program called a ``Missing``. A SystemExit (status 2), so that a program's
  ``except Exception`` cannot carry on without what it asked for."""

  def __init__(self, message):
    super().__init__(EXIT_USAGE)
    self.message = message

  def __str__(self):
    return self.message


class Missing:
  """A ``tf.contrib`` name TensorFlow 2 lacks: each attribute is a Missing too; calling
  one, or creating an instance of a class derived from one, raises Unavailable."""

  def __init__(self, path, purpose=None):
    self._path, self._purpose = path, purpose

  def __getattr__(self, name):
    if name.startswith('__'):  # Keeps copy, pickle and inspect from taking it for a proxy.
      raise AttributeError(name)
    return Missing('%s.%s' % (self._path, name), self._purpose)

  def __repr__(self):
    return '<missing %s>' % self._path

  def __call__(self, *args, **kwargs):
    raise Unavailable('%s%s is not available on TensorFlow 2: tf.contrib is gone and '
                      'legacy-resnet-run has no stand-in for it'
                      % (self._path, ' (%s)' % self._purpose if self._purpose else ''))

  def __mro_entries__(self, bases):
    """``class Cell(tf.contrib.rnn.RNNCell)`` at a module's top level still imports."""
    missing = self

    class Unsupported:
      def __new__(cls, *args, **kwargs):
        missing()

    return (Unsupported,)


class StandIn(types.ModuleType):
  """``tensorflow.contrib.<name>``: each attribute from the first of its STAND_INS
  sources that offers it, any other a Missing."""

  def __init__(self, name):
    super().__init__('tensorflow.contrib.' + name)
    self._sources = STAND_INS[name]

  def __getattr__(self, attribute):
    if attribute.startswith('_'):
      raise AttributeError(attribute)
    for module_name, names in self._sources:
      module = importlib.import_module(module_name)
      offered = getattr(module, '__all__', None) if names is None else names
      if hasattr(module, attribute) and (offered is None or attribute in offered):
        return getattr(module, attribute)
    return Missing('tf.' + self.__name__[len('tensorflow.'):] + '.' + attribute)


def _contrib_module(name):
  """tf.contrib.<name>: the module itself, a StandIn or a Missing."""
  if name.startswith('__'):
    raise AttributeError(name)
  if name in MODULES:
    found = importlib.import_module(MODULES[name])
  elif name in STAND_INS:
    found = StandIn(name)
  else:
    found = Missing('tf.contrib.' + name, UNAVAILABLE.get(name))
  setattr(package, name, found)  # Later lookups find the attribute without __getattr__.
  return found


package = types.ModuleType('tensorflow.contrib', 'Stand-ins for TensorFlow 1\'s tf.contrib.')
package.__getattr__ = _contrib_module


def lookup(names):
  """What ``tensorflow.contrib.<names joined by dots>`` is (``package`` for no names); a
  Missing for a name nothing offers."""
  found, path = package, 'tf.contrib'
  for name in names:
    path += '.' + name
    if hasattr(found, '__path__'):  # As an import statement: a real package's submodule first.
      submodule = '%s.%s' % (found.__name__, name)
      try:
        found = importlib.import_module(submodule)
        continue
      except ModuleNotFoundError as error:
        if error.name != submodule:  # The submodule exists and lacks something itself.
          raise
    found = getattr(found, name, None)
    if found is None:
      found = Missing(path)
  return found
