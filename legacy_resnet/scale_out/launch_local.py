"""Runs a parameter-server cluster on this machine, for trying it out:

    python -m legacy_resnet.scale_out.launch_local --ps 1 --workers 2 -- --train_dir runs/dist

starts ``--ps`` parameter servers and ``--workers`` workers as ``train_graph.py``
processes on free 127.0.0.1 ports, with the train flags after ``--`` plus each one's
``--ps_hosts``, ``--worker_hosts``, ``--job_name`` and ``--task_index``. Their output
is streamed with a ``[worker:0]`` prefix. When one of them fails (or ``--timeout``
passes, or Ctrl-C), the others are stopped and the launcher exits non-zero.

TensorFlow's servers listen on every network interface, so the launcher first moves
itself, and with it the whole cluster, into a private network namespace that has only
a loopback interface (``unshare --net``, through a user namespace when not root).
Where the system refuses that, it says so in a ``warning:`` line and runs the cluster
in the machine's own network.
"""

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

from legacy_resnet.platform import cli
from legacy_resnet.scale_out import cluster

LOOPBACK = '127.0.0.1'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, 'train_graph.py')
EXIT_FAILED = 1
STOP_GRACE_SECS = 10.0
CLUSTER_FLAGS = ('--ps_hosts', '--worker_hosts', '--job_name', '--task_index')
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
  sockets = []
  try:
    for _ in range(count):
      sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      sock.bind((LOOPBACK, 0))
      sockets.append(sock)
    return [sock.getsockname()[1] for sock in sockets]
  finally:
    for sock in sockets:
      sock.close()


def commands(num_ps, num_workers, train_flags, ports=None):
  """[(name like 'worker:0', argv)] of every process of the cluster, ps first."""
  ports = ports or free_ports(num_ps + num_workers)
  hosts = ['%s:%d' % (LOOPBACK, port) for port in ports]
  ps_hosts, worker_hosts = ','.join(hosts[:num_ps]), ','.join(hosts[num_ps:])
  jobs = [('ps', index) for index in range(num_ps)] + [
      ('worker', index) for index in range(num_workers)]
  return [('%s:%d' % (job, index),
           [sys.executable, TRAIN_SCRIPT] + list(train_flags) +
           ['--ps_hosts', ps_hosts, '--worker_hosts', worker_hosts, '--job_name', job,
            '--task_index', str(index)]) for job, index in jobs]


def _child_environment():
  """This environment without TF_CONFIG: the children get their cluster as flags."""
  return {name: value for name, value in os.environ.items() if name != 'TF_CONFIG'}


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


def _first_failure(names, processes):
  """(name, exit status) of a process that ended with a non-zero status, or None."""
  for name, process in zip(names, processes):
    if process.poll() not in (None, 0):
      return name, process.returncode
  return None


def _interrupt(unused_signal_number, unused_frame):
  raise KeyboardInterrupt


def run(num_ps, num_workers, train_flags, timeout=0.0, out=None):
  """Runs the cluster to completion; returns 0 when every process exits 0. A SIGTERM
  to the launcher stops the children as Ctrl-C does."""
  previous = signal.signal(signal.SIGTERM, _interrupt)
  try:
    return _run(num_ps, num_workers, train_flags, timeout, out)
  finally:
    signal.signal(signal.SIGTERM, previous)


def _run(num_ps, num_workers, train_flags, timeout, out):
  out = out or sys.stdout
  lock = threading.Lock()
  names, processes, streams = [], [], []
  deadline = time.monotonic() + timeout if timeout else None
  try:
    for name, argv in commands(num_ps, num_workers, train_flags):
      # Each child in its own session: Ctrl-C reaches the launcher only, which stops
      # the children itself (a ps would not notice a terminal's SIGINT in time).
      process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, bufsize=1, start_new_session=True,
                                 env=_child_environment())
      names.append(name)
      processes.append(process)
      streams.append(threading.Thread(target=_stream, args=(name, process.stdout, out, lock),
                                      daemon=True))
      streams[-1].start()
    while any(process.poll() is None for process in processes):
      failure = _first_failure(names, processes)
      if failure:
        _stop(processes)
        sys.stderr.write('error: %s exited with status %d; stopped the others\n' % failure)
        return EXIT_FAILED
      if deadline and time.monotonic() > deadline:
        running = [name for name, process in zip(names, processes) if process.poll() is None]
        _stop(processes)
        sys.stderr.write('error: --timeout %g: %s still running; stopped the cluster\n'
                         % (timeout, ', '.join(running)))
        return EXIT_FAILED
      time.sleep(0.2)
  except KeyboardInterrupt:
    _stop(processes)
    sys.stderr.write('error: interrupted; stopped every process\n')
    return cli.EXIT_INTERRUPTED
  finally:
    for thread in streams:
      thread.join(timeout=5)
  failure = _first_failure(names, processes)
  if failure:
    sys.stderr.write('error: %s exited with status %d\n' % failure)
    return EXIT_FAILED
  return 0


def unshare_argv(unshare=None):
  """The ``unshare`` command line that runs a command in a new network namespace
  (and, when not root, the user namespace that allows it), or None with the reason
  this system cannot: (argv prefix or None, reason or None)."""
  unshare = unshare or shutil.which('unshare')
  if not unshare:
    return None, 'no unshare command'
  prefix = [unshare, '--net'] + ([] if os.geteuid() == 0 else ['--map-root-user'])
  probe = subprocess.run(prefix + ['true'], capture_output=True, text=True)
  if probe.returncode != 0:
    return None, (probe.stderr.strip().splitlines() or ['unshare failed'])[-1]
  return prefix, None


def bring_up_loopback():
  """Sets the loopback interface of this network namespace up (a new one starts
  with it down)."""
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    request = _IFREQ_FLAGS.pack(cluster.LOOPBACK_INTERFACE.encode(), 0)
    flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
    if not flags & IFF_UP:
      fcntl.ioctl(sock, SIOCSIFFLAGS,
                  _IFREQ_FLAGS.pack(cluster.LOOPBACK_INTERFACE.encode(), flags | IFF_UP))


def enter_private_network(argv):
  """Makes sure the cluster runs where only this machine can reach it: in a network
  namespace with loopback only, re-running the launcher (same pid) through
  ``unshare`` when it is not in one yet. Returns only when the launcher is in such
  a namespace, or after a ``warning:`` line when the system does not allow one."""
  if cluster.loopback_only():
    bring_up_loopback()
    print('launch_local: the cluster runs in a private network namespace with loopback '
          'only; other machines cannot reach it', flush=True)
    return
  prefix, reason = unshare_argv()
  if prefix:
    environment = dict(os.environ)
    environment['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [path for path in [environment.get('PYTHONPATH')] if path])
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
  given = sorted(set(train_flags) & set(CLUSTER_FLAGS))
  if given:
    sys.stderr.write('error: %s: the launcher sets the cluster flags itself\n' % given[0])
    return cli.EXIT_USAGE
  enter_private_network(argv)
  return run(settings.ps, settings.workers, train_flags, settings.timeout)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
