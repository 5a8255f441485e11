"""Writes that never leave a half-written file where a good one was."""

import contextlib
import json
import os
import tempfile

from legacy_resnet.core.errors import UsageError


@contextlib.contextmanager
def replacing(path, suffix=''):
  """Yields a temporary path beside ``path``, renamed to ``path`` on success and removed on
  an exception. ``suffix`` keeps an extension that a writer library may insist on."""
  folder = os.path.dirname(os.path.abspath(path))
  try:
    handle, temporary = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                                         suffix=suffix + '.tmp', dir=folder)
  except OSError as error:
    raise UsageError('%s: cannot write here: %s' % (path, error.strerror)) from None
  os.close(handle)
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; written files get the usual mode.
    yield temporary
    os.replace(temporary, path)
  except OSError as error:
    raise UsageError('%s: cannot write: %s' % (path, error.strerror)) from None
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def write_json(path, value):
  """Writes ``value`` as indented JSON to ``path`` atomically."""
  with replacing(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as stream:
      json.dump(value, stream, indent=2, sort_keys=True)
      stream.write('\n')
