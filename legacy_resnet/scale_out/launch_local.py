"""Runs a parameter-server cluster of ``train_graph.py`` processes on this machine, in a
private network namespace where allowed (docs/clusters.md):
``python -m legacy_resnet.scale_out.launch_local --ps 1 --workers 2 -- TRAIN_FLAGS``."""

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from legacy_resnet.core import cli
from legacy_resnet.scale_out import cluster

LOOPBACK = '127.0.0.1'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, 'train_graph.py')
EXIT_FAILED = 1
STOP_GRACE_SECS = 10.0
# ioctl requests and the flag of <linux/sockios.h> and <net/if.h>; struct ifreq is
# the interface name (16 bytes) and a union of at most 24 bytes, here the flags.
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ_FLAGS = struct.Struct('16sH22x')


def parser():
  p = cli.ArgumentParser(
      prog='python -m legacy_resnet.scale_out.launch_local',
      description='Run parameter servers and workers of train_graph.py on 127.0.0.1.',
      usage='%(prog)s [--ps N] [--workers N] [--timeout SECS] -- TRAIN_FLAGS...')
  p.add_argument('--ps', type=cli.positive_int, default=1, help='parameter servers (default: 1)')
  p.add_argument('--workers', type=cli.positive_int, default=2,
                 help='workers; worker 0 is the chief (default: 2)')
  p.add_argument('--timeout', type=cli.non_negative_float, default=0.0,
                 help='stop everything and fail after this many seconds (default: 0, none)')
  return p


def free_ports(count):
  """``count`` distinct ports that are free on 127.0.0.1 right now (the OS picks them
  when binding to port 0; all are held open until all are picked)."""
  with contextlib.ExitStack() as stack:
    sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
    for sock in sockets:
      sock.bind((LOOPBACK, 0))
    return [sock.getsockname()[1] for sock in sockets]


def commands(num_ps, num_workers, train_flags):
  """[(name like 'worker:0', argv)] of every process of the cluster, ps first."""
  hosts = ['%s:%d' % (LOOPBACK, port) for port in free_ports(num_ps + num_workers)]
  ps_hosts, worker_hosts = ','.join(hosts[:num_ps]), ','.join(hosts[num_ps:])
  jobs = [('ps', index) for index in range(num_ps)] + [
      ('worker', index) for index in range(num_workers)]
  return [('%s:%d' % (job, index),
           [sys.executable, TRAIN_SCRIPT] + list(train_flags) +
           ['--ps_hosts', ps_hosts, '--worker_hosts', worker_hosts, '--job_name', job,
            '--task_index', str(index)]) for job, index in jobs]


def _stream(name, pipe, out, lock):
  """Copies ``pipe`` to ``out`` line by line, each line prefixed with ``[name] ``."""
  for line in iter(pipe.readline, ''):
    with lock:
      out.write('[%s] %s' % (name, line if line.endswith('\n') else line + '\n'))
      out.flush()
  pipe.close()


def _stop(processes):
  """SIGTERM to every process still running, SIGKILL to those left after a grace."""
  running = [process for process in processes if process.poll() is None]
  for process in running:
    process.send_signal(signal.SIGTERM)
  deadline = time.monotonic() + STOP_GRACE_SECS
  for process in running:
    try:
      process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


def _first_failure(processes):
  """(name, exit status) of a process that ended with a non-zero status, or None."""
  return next(((name, process.returncode) for name, process in processes.items()
               if process.poll() not in (None, 0)), None)


def run(num_ps, num_workers, train_flags, timeout=0.0, out=None):
  """Runs the cluster to completion; returns 0 when every process exits 0. A SIGTERM
  to the launcher stops the children as Ctrl-C does."""
  out = out or sys.stdout
  lock = threading.Lock()
  processes, streams = {}, []  # by name
  deadline = time.monotonic() + timeout if timeout else None
  # The children get their cluster as flags only.
  environment = {name: value for name, value in os.environ.items() if name != 'TF_CONFIG'}
  previous_handler = signal.signal(signal.SIGTERM, signal.default_int_handler)
  try:
    for name, argv in commands(num_ps, num_workers, train_flags):
      # Each child in its own session: Ctrl-C reaches the launcher only, which stops
      # the children itself (a ps would not notice a terminal's SIGINT in time).
      processes[name] = subprocess.Popen(
          argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
          start_new_session=True, env=environment)
      streams.append(threading.Thread(
          target=_stream, args=(name, processes[name].stdout, out, lock), daemon=True))
      streams[-1].start()
    while any(process.poll() is None for process in processes.values()):
      failure = _first_failure(processes)
      if failure:
        _stop(processes.values())
        sys.stderr.write('error: %s exited with status %d; stopped the others\n' % failure)
        return EXIT_FAILED
      if deadline and time.monotonic() > deadline:
        running = [name for name, process in processes.items() if process.poll() is None]
        _stop(processes.values())
        sys.stderr.write('error: --timeout %g: %s still running; stopped the cluster\n'
                         % (timeout, ', '.join(running)))
        return EXIT_FAILED
      time.sleep(0.2)
  except KeyboardInterrupt:
    _stop(processes.values())
    sys.stderr.write('error: interrupted; stopped every process\n')
    return cli.EXIT_INTERRUPTED
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    for thread in streams:
      thread.join(timeout=5)
  failure = _first_failure(processes)
  if failure:
    sys.stderr.write('error: %s exited with status %d\n' % failure)
    return EXIT_FAILED
  return 0


def unshare_argv():
  """(the ``unshare`` argv prefix that runs a command in a new network namespace, and
  when not root the user namespace that allows it; None) or (None, why not)."""
  unshare = shutil.which('unshare')
  if not unshare:
    return None, 'no unshare command'
  prefix = [unshare, '--net'] + ([] if os.geteuid() == 0 else ['--map-root-user'])
  probe = subprocess.run(prefix + ['true'], capture_output=True, text=True)
  if probe.returncode != 0:
    return None, (probe.stderr.strip().splitlines() or ['unshare failed'])[-1]
  return prefix, None


def bring_up_loopback():
  """Sets the loopback interface of this (new) network namespace up."""
  name = cluster.LOOPBACK_INTERFACE.encode()
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, _IFREQ_FLAGS.pack(name, 0)))[1]
    if not flags & IFF_UP:
      fcntl.ioctl(sock, SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name, flags | IFF_UP))


def enter_private_network(argv):
  """Moves the launcher (same pid, through ``unshare``) into a network namespace with
  loopback only, or says in a ``warning:`` line that the system does not allow one."""
  if cluster.loopback_only():
    bring_up_loopback()
    print('launch_local: the cluster runs in a private network namespace with loopback '
          'only; other machines cannot reach it', flush=True)
    return
  prefix, reason = unshare_argv()
  if prefix:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(prefix[0], prefix + [sys.executable, '-m', 'legacy_resnet.scale_out.launch_local'] +
              list(argv), environment)
  sys.stderr.write('warning: cannot run the cluster in a private network namespace (%s): '
                   'its ports are open on every network interface to unauthenticated '
                   'clients (%s)\n' % (reason, cluster.SECURITY_DOC))
  sys.stderr.flush()


def main(argv):
  """``argv``: launcher flags, then ``--`` and the train flags."""
  split = argv.index('--') if '--' in argv else len(argv)
  settings = parser().parse_args(argv[:split])
  train_flags = argv[split + 1:]
  given = sorted(set(train_flags) & {'--' + flag for flag in cluster.CLUSTER_FLAGS})
  if given:
    sys.stderr.write('error: %s: the launcher sets the cluster flags itself\n' % given[0])
    return cli.EXIT_USAGE
  enter_private_network(argv)
  return run(settings.ps, settings.workers, train_flags, settings.timeout)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
