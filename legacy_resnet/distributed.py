"""Between-graph replication with parameter servers: what a ps process and a worker
process of a ``tf.train.ClusterSpec`` run.

Every worker builds the same training graph, its variables placed on the parameter
servers by ``replica_device_setter``, and trains in a ``MonitoredSession`` set up as
``MonitoredTrainingSession`` sets it up (chief/worker session creators, a checkpoint
saver hook on the chief), with two differences: the chief's ``ChiefSessionCreator`` is
given the newest *readable* checkpoint, and the other workers' session creator looks for
the chief's variables every second instead of every 30.

With ``--sync_replicas`` (the default) a ``SyncReplicasOptimizer`` averages the
gradients of ``--replicas_to_aggregate`` worker steps into each update; otherwise every
worker applies its own gradients as soon as they are computed.

Worker task 0, the chief, initializes or restores the variables, writes checkpoints,
summaries and the run's metadata, and evaluates the final checkpoint. A parameter
server has nothing to compute, so it cannot tell when training is over: each worker,
when it finishes, puts its task index into a small queue on every ps, and a ps exits
once every worker's index has arrived (instead of ``server.join()``, which never
returns).
"""

import contextlib
import sys
import threading
import time

import tensorflow as tf

from legacy_resnet import batching
from legacy_resnet import checkpoints
from legacy_resnet import cluster
from legacy_resnet import evaluation
from legacy_resnet import model_graph
from legacy_resnet import training
from legacy_resnet.errors import UsageError
from legacy_resnet.progress import ProgressBar

# A ps polls its queue this often, so Ctrl-C and its own time bound are noticed.
PS_POLL_MS = 1000
# How long a closing chief waits for the threads of its session: the sync-replicas
# queue runner is blocked waiting for gradients that will never come, and is
# cancelled when the session closes.
STOP_GRACE_SECS = 2
# A non-chief worker checks this often whether the chief has initialized the
# variables, and gives up after CHIEF_WAIT_SECS (as MonitoredTrainingSession does).
READY_POLL_SECS = 1
CHIEF_WAIT_SECS = 7200


def _log(text):
  print(text, flush=True)


@contextlib.contextmanager
def _expected_cancellations_quiet():
  """Drops the CancelledError a queue-runner thread raises when the chief's session
  closes under it (by design, see STOP_GRACE_SECS); other thread errors still show."""
  previous = threading.excepthook

  def hook(args):
    if not (issubclass(args.exc_type, tf.errors.CancelledError) and
            args.thread is not None and args.thread.name.startswith('QueueRunnerThread')):
      previous(args)

  threading.excepthook = hook
  try:
    yield
  finally:
    threading.excepthook = previous


def session_config(settings, task):
  """The run's ConfigProto, seeing only the ps tasks and this task, so that workers
  never wait for each other (a restarted or late worker holds nobody up)."""
  config = training.session_config(settings)
  config.device_filters.extend(['/job:%s' % cluster.PS,
                                '/job:%s/task:%d' % (task.job_name, task.task_index)])
  return config


def start_server(task, config):
  """This process's in-process gRPC server; says on stderr when its port is open
  beyond the host the cluster names."""
  try:
    server = tf.distribute.Server(tf.train.ClusterSpec(cluster.cluster_dict(task)),
                                  job_name=task.job_name, task_index=task.task_index,
                                  config=config)
  except (tf.errors.OpError, ValueError) as error:
    raise UsageError('--%s_hosts: cannot serve %s as %s %d: %s' % (
        task.job_name, cluster.own_address(task), task.job_name, task.task_index,
        error)) from None
  warning = cluster.exposure_warning(task)
  if warning:
    sys.stderr.write(warning + '\n')
    sys.stderr.flush()
  return server


def done_queue(ps_index):
  """The queue on ps ``ps_index`` that finished workers put their task index into.

  Workers and the ps build it in their own graphs; the shared name (and identical
  attributes) make them the same queue on the ps.
  """
  with tf.compat.v1.device('/job:%s/task:%d' % (cluster.PS, ps_index)):
    return tf.queue.FIFOQueue(-1, [tf.int32], shapes=[[]],
                              shared_name='done_queue_%d' % ps_index,
                              name='done_queue_%d' % ps_index)


def run_ps(settings, task):
  """Serves variables until every worker has reported done; returns then.

  Raises:
    UsageError: with ``--ps_timeout_secs``, when the workers have not all finished
      within that time.
  """
  config = session_config(settings, task)
  server = start_server(task, config)
  num_workers = len(task.worker_hosts)
  _log('ps %d (%s) listening on %s; waiting for %d worker(s) to finish'
       % (task.task_index, task.ps_hosts[task.task_index], cluster.listening_on(task),
          num_workers))
  graph = tf.Graph()
  with graph.as_default():
    dequeue = done_queue(task.task_index).dequeue()
  graph.finalize()
  deadline = time.monotonic() + settings.ps_timeout_secs if settings.ps_timeout_secs else None
  finished = set()
  poll = tf.compat.v1.RunOptions(timeout_in_ms=PS_POLL_MS)
  with tf.compat.v1.Session(server.target, graph=graph, config=config) as session:
    while len(finished) < num_workers:
      try:
        finished.add(int(session.run(dequeue, options=poll)))  # A restart may repeat one.
      except tf.errors.DeadlineExceededError:
        if deadline and time.monotonic() > deadline:
          missing = sorted(set(range(num_workers)) - finished)
          raise UsageError('--ps_timeout_secs %g: ps %d gave up waiting for worker(s) %s'
                           % (settings.ps_timeout_secs, task.task_index,
                              ', '.join(map(str, missing)))) from None
  _log('ps %d: all %d worker(s) finished; exiting' % (task.task_index, num_workers))


def replicas_per_step(settings, task):
  """Worker batches that make one global step: ``--replicas_to_aggregate`` (default:
  every worker) when synchronous, one when asynchronous."""
  if not settings.sync_replicas:
    return 1
  return settings.replicas_to_aggregate or len(task.worker_hosts)


class _WorkerGraph:
  """The training graph of one worker, its session hooks, and the ops it runs once
  training is over."""

  def __init__(self, settings, task, num_classes, image_size, steps_per_epoch, total_steps,
               replicas):
    self.chief = chief = cluster.is_chief(task)
    num_workers = len(task.worker_hosts)
    self.sync_optimizer = None

    def synchronized(optimizer):
      self.sync_optimizer = tf.compat.v1.train.SyncReplicasOptimizer(
          optimizer, replicas_to_aggregate=replicas, total_num_replicas=num_workers)
      return self.sync_optimizer

    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(settings.seed)
      device_setter = tf.compat.v1.train.replica_device_setter(
          cluster=tf.train.ClusterSpec(cluster.cluster_dict(task)),
          worker_device='/job:%s/task:%d' % (cluster.WORKER, task.task_index))
      with tf.compat.v1.device(device_setter):
        self.tensors = model_graph.build_training(
            settings, num_classes, image_size, steps_per_epoch, total_steps,
            wrap_optimizer=synchronized if settings.sync_replicas else None)
        # Read after the update: the step whose batch this worker draws next.
        with tf.control_dependencies([self.tensors.train_op]):
          self.step_after_update = tf.identity(self.tensors.global_step)
      self.hooks = [tf.compat.v1.train.StopAtStepHook(last_step=total_steps)]
      self.after_training = [done_queue(index).enqueue(task.task_index)
                             for index in range(len(task.ps_hosts))]
      if self.sync_optimizer:
        # When the chief's session stops, its queue runner closes the token queue, so
        # workers still waiting for a token stop too (OutOfRangeError).
        self.hooks.append(self.sync_optimizer.make_session_run_hook(chief))
      # One unsharded saver: the chief writes whole checkpoints into its own train dir
      # (a sharded one would write each ps's variables on that ps's disk), with the
      # variable names of a one-process run.
      self.scaffold = tf.compat.v1.train.Scaffold(
          init_op=self.tensors.initializer,
          saver=tf.compat.v1.train.Saver(sharded=False, save_relative_paths=True,
                                         max_to_keep=settings.max_to_keep))


class _WorkerSessionCreator(tf.compat.v1.train.SessionCreator):
  """A non-chief worker's session, once the chief has initialized the variables.

  TensorFlow's WorkerSessionCreator checks for that every 30 seconds, long enough for
  a synchronous chief to run many steps alone (its own gradients fill the aggregate);
  this one checks every READY_POLL_SECS.
  """

  def __init__(self, scaffold, master, config):
    self._scaffold = scaffold
    self._master = master
    self._config = config

  def create_session(self):
    self._scaffold.finalize()
    manager = tf.compat.v1.train.SessionManager(
        local_init_op=self._scaffold.local_init_op,
        local_init_feed_dict=self._scaffold.local_init_feed_dict,
        ready_op=self._scaffold.ready_op,
        ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
        graph=tf.compat.v1.get_default_graph(), recovery_wait_secs=READY_POLL_SECS)
    return manager.wait_for_session(self._master, config=self._config,
                                    max_wait_secs=CHIEF_WAIT_SECS)


def _monitored_session(settings, worker, master, config, steps_per_epoch, resume_from):
  """A MonitoredSession: on the chief, one that restores ``resume_from`` (or
  initializes) and saves checkpoints into --train_dir, as MonitoredTrainingSession
  does but from the newest readable checkpoint rather than the newest listed one; on
  other workers, one that waits for the chief."""
  if not worker.chief:
    return tf.compat.v1.train.MonitoredSession(
        session_creator=_WorkerSessionCreator(worker.scaffold, master, config),
        hooks=worker.hooks, stop_grace_period_secs=STOP_GRACE_SECS)
  saver_hook = tf.compat.v1.train.CheckpointSaverHook(
      settings.train_dir, save_steps=settings.save_every_n_steps or steps_per_epoch,
      scaffold=worker.scaffold, checkpoint_basename=training.CHECKPOINT_BASENAME)
  return tf.compat.v1.train.MonitoredSession(
      session_creator=tf.compat.v1.train.ChiefSessionCreator(
          scaffold=worker.scaffold, master=master, config=config,
          checkpoint_filename_with_path=resume_from),
      hooks=worker.hooks + [saver_hook], stop_grace_period_secs=STOP_GRACE_SECS)


def _prepare_train_dir(settings, metadata, saver):
  """The chief's side of a (re)start: removes what a killed save left, keeps the
  earlier run's results, writes the metadata eval_graph.py needs, and lets ``saver``
  go on deleting beyond --max_to_keep. Returns the checkpoint to resume from, or None.
  """
  resume_from = training.resume_point(settings.train_dir, metadata)
  checkpoints.write_metadata(settings.train_dir, metadata)
  if resume_from:
    checkpoints.recover_saver_list(saver, settings.train_dir, resume_from)
    _log('chief: resuming from %s' % resume_from)
  return resume_from


def _train_steps(session, worker, settings, task, train_split, writer, bar):
  """Runs training steps until the session says stop.

  Returns:
    (the last global step seen, seconds each of this worker's steps took).
  """
  tensors = worker.tensors
  augmentation = training.augmentation(settings)
  shard = (task.task_index, len(task.worker_hosts))
  step = int(session.run(tensors.global_step))
  next_summary = step
  seconds = []
  while not session.should_stop():
    images, labels = batching.training_batch(train_split, settings.batch_size, settings.seed,
                                             step, augmentation, shard)
    fetches = [worker.step_after_update, tensors.loss, tensors.accuracy]
    if writer and step >= next_summary:
      fetches.append(tensors.summary_op)
    start = time.perf_counter()
    try:
      results = session.run(fetches, model_graph.training_feed(tensors.model, images, labels))
    except tf.errors.OutOfRangeError:
      break  # The chief has finished and closed the sync token queue.
    seconds.append(time.perf_counter() - start)
    step, loss, accuracy = int(results[0]), results[1], results[2]
    training.check_loss(loss, step, settings.train_dir)
    bar.update(step, loss, accuracy)
    if len(results) > 3:
      writer.add_summary(results[3], step)
      next_summary = step + settings.log_every_n_steps
  return step, seconds


def _timing(seconds):
  """'29 steps, median 0.412 s per step' (the first two steps, which include
  start-up work, are left out)."""
  timed = sorted(seconds[2:])
  if not timed:
    return '%d steps, too few to time' % len(seconds)
  return '%d steps, median %.3f s per step' % (len(seconds), timed[len(timed) // 2])


def _final_report(settings, test_split, metadata):
  """Evaluates the chief's last checkpoint, read back from disk, on the test split (read
  now for the first time), and records it as 'test'."""
  classifier = evaluation.RestoredClassifier(settings.train_dir)
  try:
    report = evaluation.evaluate(classifier, test_split)
  finally:
    classifier.close()
  metadata['test'] = {'accuracy': report['accuracy'], 'loss': report['loss'],
                      'global_step': classifier.global_step, 'split': 'test'}
  checkpoints.write_metadata(settings.train_dir, metadata)
  return report


def run_worker(settings, task, data, metadata):
  """Trains as worker ``task.task_index`` until the global step reaches the end of the
  run, tells the parameter servers it is done, and (the chief) evaluates the final
  checkpoint. Returns the chief's held-out report, None on other workers."""
  replicas = replicas_per_step(settings, task)
  steps_per_epoch, total_steps = training.run_length(settings, data.num_train, replicas)
  worker = _WorkerGraph(settings, task, len(data.class_names), data.image_size,
                        steps_per_epoch, total_steps, replicas)
  chief = worker.chief
  resume_from = None
  if chief:
    resume_from = _prepare_train_dir(settings, metadata, worker.scaffold.saver)
  config = session_config(settings, task)
  server = start_server(task, config)
  name = 'worker %d%s' % (task.task_index, ' (chief)' if chief else '')
  _log('%s: %s training to global step %d (%d per epoch)'
       % (name, 'synchronous' if settings.sync_replicas else 'asynchronous', total_steps,
          steps_per_epoch))
  bar = ProgressBar(total_steps, steps_per_epoch, settings.batch_size)
  with worker.graph.as_default(), _expected_cancellations_quiet():
    # The checkpoint hook writes the graph through the same cached writer.
    writer = tf.compat.v1.summary.FileWriterCache.get(settings.train_dir) if chief else None
    with _monitored_session(settings, worker, server.target, config, steps_per_epoch,
                            resume_from) as session:
      step, seconds = _train_steps(session, worker, settings, task, data.train, writer, bar)
    with tf.compat.v1.Session(server.target, config=config) as session:
      session.run(worker.after_training)
  if writer:
    writer.flush()
  _log('%s: done at global step %d (%s)' % (name, step, _timing(seconds)))
  if not chief:
    return None
  return _final_report(settings, data.test, metadata)
