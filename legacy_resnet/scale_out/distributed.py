"""What a ps and a worker process of a parameter-server cluster run (docs/clusters.md).
A ps cannot tell when training is over (``server.join()`` never returns), so each
finished worker puts its task index into a queue on every ps, which exits once all came.
"""

import contextlib
import sys
import threading
import time

import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import batching
from legacy_resnet.evaluate import calibration
from legacy_resnet.evaluate import evaluation
from legacy_resnet.graph import model_graph
from legacy_resnet.core.errors import SettingError
from legacy_resnet.scale_out import cluster
from legacy_resnet.settings import derived
from legacy_resnet.train import training
from legacy_resnet.train import training_loop
from legacy_resnet.train.progress import ProgressBar

# A ps looks at its queue this often, so Ctrl-C and its own time bound are noticed.
PS_POLL_SECS = 0.2
# How long a closing chief waits for its session's threads: the sync-replicas queue
# runner waits for gradients that never come, and is cancelled when the session closes.
STOP_GRACE_SECS = 2
# A non-chief worker checks this often whether the chief has initialized the
# variables, and gives up after CHIEF_WAIT_SECS.
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
  yield
  # Not restored when an error ends training: the process is about to exit with it, and
  # the threads of the session it closed may report their cancellation only then.
  threading.excepthook = previous


def start_server(settings, task):
  """(this process's in-process gRPC server, the ConfigProto of its sessions); says on
  stderr when its port is open beyond the host the cluster names."""
  config = derived.session_config(settings.run)
  # Seeing only the ps tasks and this one, workers never wait for each other (a
  # restarted or late worker holds nobody up).
  config.device_filters.extend(['/job:%s' % cluster.PS,
                                '/job:%s/task:%d' % (task.job_name, task.task_index)])
  try:
    server = tf.distribute.Server(tf.train.ClusterSpec(cluster.cluster_dict(task)),
                                  job_name=task.job_name, task_index=task.task_index,
                                  config=config)
  except (tf.errors.OpError, ValueError) as error:
    raise SettingError('{%s_hosts}: cannot serve %%s as %%s %%d: %%s' % task.job_name,
                       cluster.own_address(task), task.job_name, task.task_index,
                       error) from None
  warning = cluster.exposure_warning(task)
  if warning:
    sys.stderr.write(warning + '\n')
    sys.stderr.flush()
  return server, config


def done_queue(ps_index):
  """The queue on ps ``ps_index`` that finished workers put their task index into
  (built in each graph: the shared name makes it one queue on the ps)."""
  with tf.compat.v1.device('/job:%s/task:%d' % (cluster.PS, ps_index)):
    return tf.queue.FIFOQueue(-1, [tf.int32], shapes=[[]],
                              shared_name='done_queue_%d' % ps_index,
                              name='done_queue_%d' % ps_index)


def run_ps(settings, task):
  """Serves variables until every worker has reported done; raises a UsageError when
  ``--ps_timeout_secs`` passes first."""
  server, config = start_server(settings, task)
  num_workers = len(task.worker_hosts)
  _log('ps %d (%s) listening on %s; waiting for %d worker(s) to finish'
       % (task.task_index, task.ps_hosts[task.task_index], cluster.listening_on(task),
          num_workers))
  graph = tf.Graph()
  with graph.as_default():
    queue = done_queue(task.task_index)
    queued, dequeue = queue.size(), queue.dequeue()
  graph.finalize()
  time_limit = settings.cluster.ps_timeout_secs
  deadline = time.monotonic() + time_limit if time_limit else None
  finished = set()
  with tf.compat.v1.Session(server.target, graph=graph, config=config) as session:
    while len(finished) < num_workers:
      # The size is polled and only a non-empty queue dequeued: a dequeue that a run
      # timeout cancels can drop the index arriving at that moment, and the ps would
      # then wait for that worker forever.
      if session.run(queued):
        finished.add(int(session.run(dequeue)))  # A restart may repeat one.
        continue
      if deadline and time.monotonic() > deadline:
        missing = sorted(set(range(num_workers)) - finished)
        raise SettingError('{ps_timeout_secs} %g: ps %d gave up waiting for worker(s) %s',
                           time_limit, task.task_index, ', '.join(map(str, missing)))
      time.sleep(PS_POLL_SECS)
  _log('ps %d: all %d worker(s) finished; exiting' % (task.task_index, num_workers))


def replicas_per_step(settings, task):
  """Worker batches that make one global step: one when asynchronous."""
  if settings.cluster.sync_replicas:
    return settings.cluster.replicas_to_aggregate or len(task.worker_hosts)
  return 1


class _WorkerGraph(tf.compat.v1.train.SessionRunHook):
  """The training graph of one worker and what runs it. As a hook, it keeps in ``session``
  the raw session a MonitoredSession creates (again after a recovery), for the chief's
  evaluations and saves, which must not run the training hooks."""

  def __init__(self, settings, task, num_classes, image_size, steps_per_epoch, total_steps,
               replicas):
    self.chief = chief = cluster.is_chief(task)
    self.session = None
    num_workers = len(task.worker_hosts)
    self.sync_optimizer = None

    def synchronized(optimizer):
      self.sync_optimizer = tf.compat.v1.train.SyncReplicasOptimizer(
          optimizer, replicas_to_aggregate=replicas, total_num_replicas=num_workers)
      return self.sync_optimizer

    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(settings.data.seed)
      device_setter = tf.compat.v1.train.replica_device_setter(
          cluster=tf.train.ClusterSpec(cluster.cluster_dict(task)),
          worker_device='/job:%s/task:%d' % (cluster.WORKER, task.task_index))
      with tf.compat.v1.device(device_setter):
        self.tensors = model_graph.build_training(
            settings, num_classes, image_size, steps_per_epoch, total_steps,
            wrap_optimizer=synchronized if settings.cluster.sync_replicas else None)
        # Read after the update: the step whose batch this worker draws next.
        with tf.control_dependencies([self.tensors.train_op]):
          self.step_after_update = tf.identity(self.tensors.global_step)
        self.statistics_finite = training_loop.statistics_finite_after(
            self.tensors.train_op, tf.compat.v1.global_variables())
      self.hooks = [tf.compat.v1.train.StopAtStepHook(last_step=total_steps), self]
      self.after_training = [done_queue(index).enqueue(task.task_index)
                             for index in range(len(task.ps_hosts))]
      if self.sync_optimizer:
        # When the chief's session stops, its queue runner closes the token queue, so
        # workers still waiting for a token stop too (OutOfRangeError).
        self.hooks.append(self.sync_optimizer.make_session_run_hook(chief))
      # One unsharded saver: the chief writes whole checkpoints into its own train dir
      # (a sharded one would write on each ps's disk), named as a one-process run's.
      self.checkpointer = training_loop.Checkpointer(
          {v.op.name: v for v in tf.compat.v1.global_variables()}, settings.run.train_dir,
          settings.run.max_to_keep)
      self.scaffold = tf.compat.v1.train.Scaffold(init_op=self.tensors.initializer,
                                                  saver=self.checkpointer.saver)

  def after_create_session(self, session, coord):
    del coord
    self.session = session


class _WorkerSessionCreator(tf.compat.v1.train.SessionCreator):
  """A non-chief worker's session once the chief has initialized the variables, checked
  for more often than TensorFlow's WorkerSessionCreator does (a synchronous chief would
  run many steps alone meanwhile)."""

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


def _train_steps(session, worker, settings, task, train_split, loop):
  """Runs training steps through the StepLoop ``loop`` until the session says stop;
  returns (the last global step seen, seconds each of this worker's steps took)."""
  tensors = worker.tensors
  augmentation = derived.augmentation(settings.input)
  shard = (task.task_index, len(task.worker_hosts))
  step = int(session.run(tensors.global_step))
  seconds = []
  while not session.should_stop():
    images, labels = batching.training_batch(train_split, settings.data.batch_size,
                                             settings.data.seed, step, augmentation, shard)
    fetches = [worker.step_after_update, tensors.loss, tensors.accuracy,
               worker.statistics_finite]
    if loop.summary_due(step):
      fetches.append(tensors.summary_op)
    start = time.perf_counter()
    try:
      results = session.run(fetches, model_graph.training_feed(tensors.model, images, labels))
    except tf.errors.OutOfRangeError:
      break  # The chief has finished and closed the sync token queue.
    seconds.append(time.perf_counter() - start)
    previous, step = step, int(results[0])
    loop.after_step(previous, step, *results[1:])
  return step, seconds


def run_worker(settings, task, data, metadata):
  """Trains as worker ``task.task_index``, then tells the parameter servers; returns the
  chief's test report of the final checkpoint, None on other workers."""
  replicas = replicas_per_step(settings, task)
  steps_per_epoch, total_steps = derived.run_length(settings, data.num_train, replicas)
  worker = _WorkerGraph(settings, task, len(data.class_names), data.image_size,
                        steps_per_epoch, total_steps, replicas)
  chief = worker.chief
  train_dir = settings.run.train_dir
  resume_from = None
  if chief:
    resume_from = training.resume_point(train_dir, metadata)
    checkpoints.write_metadata(train_dir, metadata)
    if resume_from:
      checkpoints.recover_saver_list(worker.checkpointer.saver, train_dir, resume_from)
      _log('chief: resuming from %s' % resume_from)
    worker.checkpointer.warn_if_short_of_space()
  server, config = start_server(settings, task)
  name = 'worker %d%s' % (task.task_index, ' (chief)' if chief else '')
  _log('%s: %s training to global step %d (%d per epoch)'
       % (name, 'synchronous' if settings.cluster.sync_replicas else 'asynchronous',
          total_steps, steps_per_epoch))
  bar = ProgressBar(total_steps, steps_per_epoch, settings.data.batch_size)
  with worker.graph.as_default(), _expected_cancellations_quiet():
    writer = training_loop.summary_writer(train_dir, worker.graph) if chief else None
    # The chief evaluates and saves with the raw session of its MonitoredSession.
    loop = training_loop.StepLoop(
        derived.Cadence.of(settings.run, steps_per_epoch, total_steps), bar, train_dir,
        training_loop.Chief(lambda: worker.session, worker.checkpointer,
                            worker.tensors.model, data, metadata, writer, bar.message)
        if chief else None)
    if chief:  # Restores the newest readable checkpoint, not the newest listed one.
      creator = tf.compat.v1.train.ChiefSessionCreator(
          scaffold=worker.scaffold, master=server.target, config=config,
          checkpoint_filename_with_path=resume_from)
    else:
      creator = _WorkerSessionCreator(worker.scaffold, server.target, config)
    with tf.compat.v1.train.MonitoredSession(session_creator=creator, hooks=worker.hooks,
                                             stop_grace_period_secs=STOP_GRACE_SECS) as session:
      step, seconds = _train_steps(session, worker, settings, task, data.train, loop)
    with tf.compat.v1.Session(server.target, config=config) as session:
      session.run(worker.after_training)
  if writer:
    writer.close()
  timed = sorted(seconds[2:])  # The first two steps include start-up work.
  _log('%s: done at global step %d (%d steps, %s)' % (name, step, len(seconds), (
      'median %.3f s per step' % timed[len(timed) // 2] if timed else 'too few to time')))
  if not chief:
    return None
  classifier = evaluation.RestoredClassifier(train_dir)
  try:
    report = evaluation.evaluate(classifier, data.test)
    if data.held_out_name == 'validation':  # Recorded as a one-process run records it.
      metadata[calibration.METADATA_KEY] = calibration.fit(
          evaluation.held_out_probabilities(classifier, data.held_out), data.held_out.labels)
      _log(calibration.describe(metadata[calibration.METADATA_KEY]))
  finally:
    classifier.close()
  metadata['test'] = {'accuracy': report['accuracy'], 'loss': report['loss'],
                      'global_step': classifier.global_step, 'split': 'test'}
  checkpoints.write_end(train_dir, metadata, classifier.global_step)
  return report
