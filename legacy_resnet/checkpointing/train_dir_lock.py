"""One writer per train dir: a training run (a cluster's chief) holds ``flock`` on ``<train_dir>/train.lock``,
released by the kernel however the holder dies; the file names the holder (host, process id, start time) for
the message that refuses a second run. On NFS the server's lock manager keeps machines apart (a crashed
client's lock lasts until its lease ends), unless mounted with ``nolock`` or ``local_lock=all``."""

import contextlib
import errno
import fcntl
import json
import os
import socket
import time

from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError

LOCK_FILE = 'train.lock'


def holder_description(record):
  """'host vm, process 1234, started 2026-12-04T21:00:00Z' of a lock file's record."""
  return 'host %s, process %s, started %s' % (record.get('host', '?'), record.get('pid', '?'),
                                              record.get('started', '?'))


def _read_record(descriptor):
  """The holder's record in the lock file open as ``descriptor`` ({} if none or half-written)."""
  os.lseek(descriptor, 0, os.SEEK_SET)
  try:
    record = json.loads(os.read(descriptor, 4096).decode('utf-8'))
  except ValueError:
    return {}
  return record if isinstance(record, dict) else {}


def _locked(path, train_dir):
  """A descriptor of the lock file ``path``, exclusively locked once ``path`` still names it
  (an ending holder removes the file, maybe after another run opened it)."""
  while True:
    try:
      descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
      raise UsageError('%s: cannot create the train dir\'s lock file: %s' % (path, error.strerror)) from None
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
      record = _read_record(descriptor)
      os.close(descriptor)
      if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
        raise UsageError('%s: cannot lock: %s' % (path, error.strerror)) from None
      holder = holder_description(record) if record else 'it has not written its name yet'
      raise SettingError('{train_dir} %s is being trained by another process (%s); wait for it to end or '
                         'stop it, or use another {train_dir}', train_dir, holder) from None
    try:
      if os.path.samestat(os.stat(path), os.fstat(descriptor)):
        return descriptor
    except FileNotFoundError:
      pass
    os.close(descriptor)


@contextlib.contextmanager
def held(train_dir, log=print):
  """Holds the lock of ``train_dir`` (a folder) while entered, taking over (said through
  ``log``) one a gone process left. Raises SettingError naming another live holder, or
  UsageError when the lock file cannot be made or written."""
  path = os.path.join(train_dir, LOCK_FILE)
  descriptor = _locked(path, train_dir)
  try:
    left = _read_record(descriptor)
    if left:
      log('taking over the lock of %s from a process that is gone (%s)'
          % (train_dir, holder_description(left)))
    record = {'host': socket.gethostname(), 'pid': os.getpid(),
              'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    try:
      os.ftruncate(descriptor, 0)
      os.pwrite(descriptor, (json.dumps(record, sort_keys=True) + '\n').encode('utf-8'), 0)
      os.fsync(descriptor)
    except OSError as error:
      raise UsageError('%s: cannot write: %s' % (path, error.strerror)) from None
    try:
      yield
    finally:
      # Removed while still locked: a clean end leaves no one to take over from (_locked sees it).
      with contextlib.suppress(OSError):
        os.unlink(path)
  finally:
    os.close(descriptor)
