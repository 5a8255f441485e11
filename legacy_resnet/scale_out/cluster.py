"""A process's part in a cluster, from the cluster flags or ``TF_CONFIG``, checked (a
UsageError naming the flag or variable), nothing started."""

import collections
import json
import re
import socket

from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError

PS, WORKER, CHIEF = 'ps', 'worker', 'chief'
TF_CONFIG = 'TF_CONFIG'
CLUSTER_FLAGS = ('ps_hosts', 'worker_hosts', 'job_name', 'task_index')

# The part of a cluster one process plays; worker task 0 is the chief, as in slim.
Task = collections.namedtuple('Task', ['ps_hosts', 'worker_hosts', 'job_name', 'task_index'])
_HOST_PORT = re.compile(r'^(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$')
# TensorFlow's gRPC server (grpc_server_lib.cc) listens on "0.0.0.0:<port>" whatever host
# the cluster names, and neither ServerDef nor an environment variable changes that.
LOOPBACK_INTERFACE = 'lo'
SECURITY_DOC = 'docs/security.md'


def own_address(task):
  """The host:port this task serves, as the cluster names it."""
  return (task.ps_hosts if task.job_name == PS else task.worker_hosts)[task.task_index]


def loopback_only():
  """Whether this process's network namespace has no interface but loopback."""
  return [name for _, name in socket.if_nameindex()] == [LOOPBACK_INTERFACE]


def listening_on(task):
  """Where this task's server really listens, for its start-up line."""
  return 'port %d of %s' % (int(own_address(task).rsplit(':', 1)[1]), (
      'a private network namespace with loopback only' if loopback_only()
      else 'every network interface'))


def exposure_warning(task):
  """The warning that this task's port is open beyond the host named; None on loopback only."""
  if loopback_only():
    return None
  host, port = own_address(task).rsplit(':', 1)
  return ('warning: port %d is open on every network interface, not only on %s: '
          'TensorFlow\'s server runs any graph an unauthenticated client sends, file reads '
          'and writes included; use it only on a trusted network or behind a firewall '
          '(%s)' % (int(port), host, SECURITY_DOC))


def is_chief(task):
  """Worker task 0 writes checkpoints, summaries and metadata."""
  return task.job_name == WORKER and task.task_index == 0


def cluster_dict(task):
  """{'ps': [...], 'worker': [...]}, the argument of ``tf.train.ClusterSpec``."""
  return {PS: list(task.ps_hosts), WORKER: list(task.worker_hosts)}


def parse_hosts(text, where):
  """'a:2222,b:2222' (or a list) -> ['a:2222', 'b:2222']; ``where`` names the variable
  or, as '{ps_hosts}', the setting."""
  hosts = [item.strip() for item in text.split(',')] if isinstance(text, str) else text
  if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
    raise SettingError(where + ': expected a non-empty list of host:port addresses, got %r',
                       text)
  for host in hosts:
    match = _HOST_PORT.match(host)
    if not match or not 1 <= int(match.group('port')) <= 65535:
      raise SettingError(where + ': %r is not a host:port address (port 1-65535)', host)
  duplicates = sorted({host for host in hosts if hosts.count(host) > 1})
  if duplicates:
    raise SettingError(where + ': address %s is listed twice', duplicates[0])
  return hosts


def _checked(task, where):
  """``task`` once its job and index are known to exist and no address serves two jobs."""
  if not task.ps_hosts:
    raise SettingError(where + ': parameter-server training needs at least one ps address')
  shared = sorted(set(task.ps_hosts) & set(task.worker_hosts))
  if shared:
    raise SettingError(where + ': address %s is both a ps and a worker', shared[0])
  count = len(task.ps_hosts if task.job_name == PS else task.worker_hosts)
  if not 0 <= task.task_index < count:
    raise SettingError(where + ': task index %d is out of range for job %r with %d task(s)',
                       task.task_index, task.job_name, count)
  return task


def from_flags(ps_hosts, worker_hosts, job_name, task_index):
  """The Task the four slim flags describe, or None when none of them is given."""
  if ps_hosts is None and worker_hosts is None and job_name is None and task_index is None:
    return None
  if job_name is None:
    raise SettingError('{job_name}: required (ps or worker) with {ps_hosts}/{worker_hosts}')
  if job_name not in (PS, WORKER):
    raise SettingError('{job_name}: %r is neither ps nor worker', job_name)
  for name, value in (('ps_hosts', ps_hosts), ('worker_hosts', worker_hosts)):
    if value is None:
      raise SettingError('{%s}: required with {job_name}' % name)
  task = Task(parse_hosts(ps_hosts, '{ps_hosts}'), parse_hosts(worker_hosts, '{worker_hosts}'),
              job_name, 0 if task_index is None else task_index)
  return _checked(task, '{task_index}')


def _json_object(value, what):
  if not isinstance(value, dict):
    raise UsageError('%s: %s must be a JSON object, got %r' % (TF_CONFIG, what, value))
  return value


def from_tf_config(text):
  """The Task a ``TF_CONFIG`` JSON string describes, or None when it has no cluster. A
  ``chief`` job becomes worker 0 and the ``worker`` tasks follow it."""
  try:
    config = json.loads(text)
  except ValueError as error:
    raise UsageError('%s is not valid JSON: %s' % (TF_CONFIG, error)) from None
  config = _json_object(config, 'the value')
  spec = _json_object(config.get('cluster', {}), '"cluster"')
  if not spec:
    return None
  unknown = sorted(set(spec) - {PS, WORKER, CHIEF})
  if unknown:
    raise UsageError('%s: job %r is not supported (only ps, worker and chief)'
                     % (TF_CONFIG, unknown[0]))
  task = _json_object(config.get('task'), '"task"')
  job, index = task.get('type'), task.get('index', 0)
  if job not in spec:
    raise UsageError('%s: task type %r is not a job of the cluster (%s)'
                     % (TF_CONFIG, job, ', '.join(sorted(spec))))
  if not isinstance(index, int) or isinstance(index, bool) or index < 0:
    raise UsageError('%s: task index %r is not a non-negative integer' % (TF_CONFIG, index))
  chiefs = parse_hosts(spec[CHIEF], '%s cluster.chief' % TF_CONFIG) if CHIEF in spec else []
  if len(chiefs) > 1:
    raise UsageError('%s: cluster.chief lists %d addresses; it takes one'
                     % (TF_CONFIG, len(chiefs)))
  workers = parse_hosts(spec[WORKER], '%s cluster.worker' % TF_CONFIG) if WORKER in spec else []
  if job == CHIEF:
    if index != 0:
      raise UsageError('%s: task index %d is out of range for job \'chief\' with 1 task'
                       % (TF_CONFIG, index))
    job = WORKER
  elif job == WORKER:
    index += len(chiefs)
  ps = parse_hosts(spec.get(PS, []), '%s cluster.ps' % TF_CONFIG) if spec.get(PS) else []
  all_workers = chiefs + workers
  if not all_workers:
    raise UsageError('%s: the cluster has no worker or chief' % TF_CONFIG)
  if len(set(all_workers)) != len(all_workers):
    raise UsageError('%s: an address is both the chief and a worker' % TF_CONFIG)
  return _checked(Task(ps, all_workers, job, index), TF_CONFIG)


def from_settings(settings, environ):
  """This process's Task from the cluster flags of ``settings`` or from
  ``environ['TF_CONFIG']`` (not both); None for a one-process run."""
  task = from_flags(*(getattr(settings.cluster, flag) for flag in CLUSTER_FLAGS))
  from_environment = from_tf_config(environ[TF_CONFIG]) if environ.get(TF_CONFIG) else None
  if task and from_environment:
    raise SettingError('both {ps_hosts}/{worker_hosts}/{job_name}/{task_index} and %s '
                       'describe a cluster; use one (unset %s or drop the flags)',
                       TF_CONFIG, TF_CONFIG)
  task = task or from_environment
  replicas = settings.cluster.replicas_to_aggregate
  if task and (replicas or 0) > len(task.worker_hosts):
    raise SettingError('{replicas_to_aggregate} %d: more than the %d worker(s)',
                       replicas, len(task.worker_hosts))
  if task and settings.run.num_clones > 1:
    raise SettingError('{num_clones} %d: in-graph clones cannot be combined with a '
                       'parameter-server cluster; run one worker per device instead',
                       settings.run.num_clones)
  return task
