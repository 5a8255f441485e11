"""The private TensorFlow APIs the project touches are all listed in
legacy_resnet/core/private_apis.py and all still present."""

import glob
import os
import re

import tensorflow as tf
from scriptutil import ROOT

from legacy_resnet.core import private_apis

# `from tensorflow.python.x import y`, `tensorflow.core...` and `obj._private(` uses.
_PRIVATE_IMPORT = re.compile(r'from (tensorflow\.(?:python|core)[\w.]*|tf_keras\.src[\w.]*) '
                             r'import (\w+)')
_PRIVATE_ATTRIBUTE = re.compile(r'\.(_[a-zA-Z]\w*)\b.*protected-access')


def test_every_private_api_is_still_there():
  gone = private_apis.missing()
  assert not gone, ('TensorFlow %s lacks private APIs this project uses (see '
                    'legacy_resnet/core/private_apis.py):\n%s' % (tf.__version__, '\n'.join(gone)))


def test_a_removed_api_is_reported_by_name():
  api = private_apis.PrivateApi('tensorflow.python.framework.tensor', 'Tensor._no_such_flag',
                                'a test')
  original = private_apis.PRIVATE_APIS
  try:
    private_apis.PRIVATE_APIS = original + (api,)
    assert private_apis.missing() == [
        "tensorflow.python.framework.tensor.Tensor._no_such_flag (a test): type object "
        "'Tensor' has no attribute '_no_such_flag'"]
  finally:
    private_apis.PRIVATE_APIS = original


def test_the_sources_use_no_unlisted_private_api():
  listed_modules = {api.module for api in private_apis.PRIVATE_APIS}
  listed_names = {name for api in private_apis.PRIVATE_APIS
                  for name in (api.attribute or '').split('.')}
  unlisted = []
  sources = glob.glob(os.path.join(ROOT, 'legacy_resnet', '**', '*.py'), recursive=True) + glob.glob(
      os.path.join(ROOT, 'nets', '*.py')) + [os.path.join(ROOT, name)
                                             for name in ('train_graph.py', 'eval_graph.py')]
  for path in sources:
    with open(path, encoding='utf-8') as stream:
      lines = stream.readlines()
    # Private attributes count in the files that reach into TensorFlow's internals
    # (argparse's, say, are not TensorFlow's).
    internals = any(_PRIVATE_IMPORT.search(line) for line in lines)
    for number, line in enumerate(lines, 1):
      for module, name in _PRIVATE_IMPORT.findall(line):
        if module not in listed_modules and '%s.%s' % (module, name) not in listed_modules:
          unlisted.append('%s:%d: %s' % (os.path.relpath(path, ROOT), number, module))
      for name in _PRIVATE_ATTRIBUTE.findall(line) if internals else ():
        if name not in listed_names:
          unlisted.append('%s:%d: %s' % (os.path.relpath(path, ROOT), number, name))
  assert not unlisted, ('private TensorFlow APIs used but not listed in '
                        'legacy_resnet/core/private_apis.py: %s' % ', '.join(unlisted))
