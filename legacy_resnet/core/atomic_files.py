"""Writes that never leave a half-written file where a good one was: the content goes
to a temporary file in the same folder, which is then renamed over the target."""

import contextlib
import json
import os
import tempfile

from legacy_resnet.core.errors import UsageError


@contextlib.contextmanager
def replacing(path, suffix=''):
  """Yields a temporary path beside ``path``; on success it is renamed to ``path``.

  On an exception the temporary file is removed and ``path`` is left as it was.
  ``suffix`` keeps an extension that a writer library may insist on.
  """
  folder = os.path.dirname(os.path.abspath(path))
  try:
    handle, temporary = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                                         suffix=suffix + '.tmp', dir=folder)
  except OSError as error:
    raise UsageError('%s: cannot write here: %s' % (path, error.strerror)) from None
  os.close(handle)
  try:
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; written files get the usual mode.
    yield temporary
    os.replace(temporary, path)
  except OSError as error:
    raise UsageError('%s: cannot write: %s' % (path, error.strerror)) from None
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def _umask():
  current = os.umask(0)
  os.umask(current)
  return current


def write_json(path, value):
  """Writes ``value`` as indented JSON to ``path`` atomically."""
  with replacing(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as stream:
      json.dump(value, stream, indent=2, sort_keys=True)
      stream.write('\n')
