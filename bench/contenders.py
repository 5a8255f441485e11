"""One benchmark contender per process, driven by ``bench/benchmark.py``.

``python -m bench.contenders NAME CONFIG_JSON`` builds contender NAME (``ours``,
``slim``, ``keras``, ``torch``, ``torch_bf16``), warms it up (warm-up is never timed), prints one JSON
line ``{"ready": {...}}`` and then answers commands read from stdin, one per line:

* ``train``, ``infer``, ``latency``: runs ``steps`` timed training steps, batches of
  inference or single-image inferences; answers ``{"seconds": [one per step]}``;
* ``memory``: ``{"rss_mb": now, "peak_rss_mb": ru_maxrss, ...}``;
* ``quit``.

Each contender is written the way its users would write it; only ``ours`` goes through
this project's code, the same code ``train_graph.py`` and ``eval_graph.py`` run.
"""

import json
import os
import resource
import sys
import tempfile
import time

import numpy as np

NUM_CLASSES = 6


def rss_mb():
  """Resident memory of this process now, in MiB (Linux /proc)."""
  with open('/proc/self/status', encoding='ascii') as stream:
    for line in stream:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024.0
  return float('nan')


def peak_rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def random_batch(count, image_size, seed=0):
  """float32 images [count, S, S, 3] in [0, 1] and int64 labels [count]."""
  rng = np.random.default_rng(seed)
  images = rng.random((count, image_size, image_size, 3), dtype=np.float32)
  return images, rng.integers(0, NUM_CLASSES, count)


def timed(function, steps):
  """Seconds of each of ``steps`` calls of ``function()``."""
  seconds = []
  for _ in range(steps):
    start = time.perf_counter()
    function()
    seconds.append(time.perf_counter() - start)
  return seconds


class Ours:
  """resnet_v1_* through ``training.Trainer`` (graph, session config, batches and feed
  of ``train_graph.py``, with its default flags) and ``evaluation.RestoredClassifier``
  (the evaluation path of ``eval_graph.py``) on a checkpoint the trainer saved in
  ``config['scratch_dir']``.
  ``config['train_flags']``: more ``train_graph.py`` flags (benchmark variants).
  The evaluation session gets the same thread and XLA flags as training.
  """

  def __init__(self, config):
    from legacy_resnet.checkpointing import checkpoints
    from legacy_resnet.data import datasets
    from legacy_resnet.evaluate import evaluation
    from legacy_resnet.graph import precision
    from legacy_resnet.core import sessions
    from legacy_resnet.data import synthetic_signs
    from legacy_resnet.programs import train_cli
    from legacy_resnet.train import training
    size, batch = config['image_size'], config['batch_size']
    self.train_dir = tempfile.mkdtemp(prefix='bench-ours-', dir=config['scratch_dir'])
    settings = train_cli.settings_of(
        ['--model_name', config['model_name'], '--batch_size', str(batch),
         '--train_dir', self.train_dir, '--max_number_of_steps', '1000000'] +
        config.get('train_flags', []))
    train, test = synthetic_signs.generate(num_train=4 * batch, num_test=batch,
                                           image_size=size)
    data = datasets.from_splits(train, test, {'kind': 'benchmark'})
    metadata = training.run_metadata(settings, data)
    self.trainer = training.Trainer(settings, data, metadata, None)
    with self.trainer.graph.as_default():
      self.trainer.restore_or_initialize(lambda text: None)
      self.trainer.prepare_step()
      self.step = 0
      self.train_step()
      self.trainer.save(self.step)
    checkpoints.write_metadata(self.train_dir, metadata)
    run = settings.run
    self.classifier = evaluation.RestoredClassifier(
        self.train_dir, config=precision.configure(sessions.session_config(
            run.num_intra_threads, run.num_inter_threads, run.xla), run.precision))
    self.images = test.images
    self.ops_at_start = len(self.trainer.graph.get_operations())
    self.info = {'forward_flops_per_image': forward_flops(config['model_name'], size),
                 'graph_finalized': self.trainer.graph.finalized,
                 'xla': run.xla, 'precision': run.precision,
                 'intra_op_threads': run.num_intra_threads,
                 'inter_op_threads': run.num_inter_threads}

  def train_step(self):
    self.trainer.train_step(self.step)
    self.step += 1

  def infer(self):
    self.classifier.probabilities(self.images)

  def single(self):
    self.classifier.probabilities(self.images[:1])

  def memory(self):
    return {'training_steps_run': self.step,
            'graph_ops_at_start': self.ops_at_start,
            'graph_ops_now': len(self.trainer.graph.get_operations())}


def forward_flops(model_name, image_size):
  """Floating-point operations of one image's forward pass (evaluation mode), counted
  by TensorFlow's profiler from the graph's convolution and matmul shapes."""
  import tensorflow as tf

  from legacy_resnet.graph import model_graph
  graph = tf.Graph()
  with graph.as_default():
    images = tf.zeros([1, image_size, image_size, 3])
    model_graph.network_fn(model_name, NUM_CLASSES)(images, is_training=False)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options['output'] = 'none'
    return int(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


class SlimPort:
  """tf-slim's own ``resnet_v1_50`` as a plain TF1 script: ``resnet_arg_scope``, default
  ``tf.compat.v1.Session()``, Adam, ``UPDATE_OPS``, feed dicts; the inference graph is
  built separately with ``is_training=False`` (as slim's eval script does)."""

  def __init__(self, config):
    import tensorflow as tf

    import legacy_resnet  # noqa: F401  (tf-slim's batch_norm needs the compat fix on TF 2.21)
    size, batch = config['image_size'], config['batch_size']
    self.images, self.labels = random_batch(batch, size)
    self.train_session, self.train_feed, self.train_op = self._graph(tf, size, True)
    self.infer_session, self.infer_feed, self.logits = self._graph(tf, size, False)

  @staticmethod
  def _graph(tf, size, is_training):
    import tf_slim as slim
    from tf_slim.nets import resnet_v1
    graph = tf.Graph()
    with graph.as_default():
      images = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3])
      labels = tf.compat.v1.placeholder(tf.int64, [None])
      with slim.arg_scope(resnet_v1.resnet_arg_scope()):
        logits, _ = resnet_v1.resnet_v1_50(images, NUM_CLASSES, is_training=is_training)
      logits = tf.squeeze(logits, [1, 2])
      output = logits
      if is_training:
        tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        loss = tf.compat.v1.losses.get_total_loss()
        with tf.control_dependencies(tf.compat.v1.get_collection(
            tf.compat.v1.GraphKeys.UPDATE_OPS)):
          output = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(
              loss, global_step=tf.compat.v1.train.get_or_create_global_step())
      session = tf.compat.v1.Session(graph=graph)
      session.run(tf.compat.v1.global_variables_initializer())
    return session, (images, labels), output

  def train_step(self):
    images, labels = self.train_feed
    self.train_session.run(self.train_op, {images: self.images, labels: self.labels})

  def infer(self):
    self.infer_session.run(self.logits, {self.infer_feed[0]: self.images})

  def single(self):
    self.infer_session.run(self.logits, {self.infer_feed[0]: self.images[:1]})


class KerasPeer:
  """Keras 3's ``keras.applications.ResNet50(weights=None)`` with the default
  ``compile`` (Adam) and ``fit`` / ``predict``."""

  def __init__(self, config):
    import keras
    size, batch = config['image_size'], config['batch_size']
    self.batch, self.steps = batch, config['steps']
    self.model = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3),
                                             classes=NUM_CLASSES)
    self.model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')
    self.images, self.labels = random_batch(batch * self.steps, size)

  def train_round(self):
    """One ``fit`` epoch over ``steps`` batches; the time is split evenly over them."""
    start = time.perf_counter()
    self.model.fit(self.images, self.labels, batch_size=self.batch, epochs=1, verbose=0)
    return [(time.perf_counter() - start) / self.steps] * self.steps

  def infer_round(self):
    start = time.perf_counter()
    self.model.predict(self.images, batch_size=self.batch, verbose=0)
    return [(time.perf_counter() - start) / self.steps] * self.steps

  def single(self):
    self.model.predict(self.images[:1], verbose=0)


class TorchPeer:
  """A PyTorch ResNet-50 (``torch_resnet.py``): ``model.train()``, Adam, cross-entropy;
  inference in ``model.eval()`` under ``torch.no_grad()``; default threads.

  Model and batches are in ``channels_last`` memory format, PyTorch's own advice for
  CPU convolutions: with the default (NCHW) layout, torch 2.13's CPU training of this
  net measured about 4 images/s here against about 55 channels-last, and a benchmark
  should race the peer at its best, not at a pitfall.
  """

  def __init__(self, config):
    import torch

    from bench import torch_resnet
    size, batch = config['image_size'], config['batch_size']
    self.torch = torch
    self.model = torch_resnet.ResNet50(NUM_CLASSES).to(memory_format=torch.channels_last)
    self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
    self.loss = torch.nn.CrossEntropyLoss()
    images, labels = random_batch(batch, size)
    # [N, H, W, C] data viewed as [N, C, H, W]: exactly channels_last, no copy.
    self.images = torch.from_numpy(images).permute(0, 3, 1, 2)
    self.labels = torch.from_numpy(labels)

  def _autocast(self):
    """float32 throughout: autocast off."""
    return self.torch.autocast('cpu', enabled=False)

  def train_step(self):
    self.model.train()
    self.optimizer.zero_grad()
    with self._autocast():
      loss = self.loss(self.model(self.images), self.labels)
    loss.backward()
    self.optimizer.step()

  def _forward(self, images):
    self.model.eval()
    with self.torch.no_grad(), self._autocast():
      self.model(images)

  def infer(self):
    self._forward(self.images)

  def single(self):
    self._forward(self.images[:1])


class TorchAutocastPeer(TorchPeer):
  """The same PyTorch ResNet-50 with the one line PyTorch's documentation gives for
  bfloat16 on a CPU: the forward pass and the loss under
  ``torch.autocast('cpu', dtype=torch.bfloat16)`` (weights and optimizer float32)."""

  def _autocast(self):
    return self.torch.autocast('cpu', dtype=self.torch.bfloat16)


# Environment variables that choose CPU kernels or threads, recorded with each result.
CPU_VARIABLES = ('TF_ENABLE_ONEDNN_OPTS', 'ONEDNN_MAX_CPU_ISA', 'ATEN_CPU_CAPABILITY',
                 'XLA_FLAGS', 'TF_XLA_FLAGS', 'OMP_NUM_THREADS')

CONTENDERS = {'ours': Ours, 'slim': SlimPort, 'keras': KerasPeer, 'torch': TorchPeer,
              'torch_bf16': TorchAutocastPeer}
# The contenders that need PyTorch (run by --torch_python when it is given).
TORCH_CONTENDERS = ('torch', 'torch_bf16')


def run_command(contender, command, steps):
  """The answer to one driver command, as a dict."""
  if command == 'train':
    if hasattr(contender, 'train_round'):
      return {'seconds': contender.train_round()}
    return {'seconds': timed(contender.train_step, steps)}
  if command == 'infer':
    if hasattr(contender, 'infer_round'):
      return {'seconds': contender.infer_round()}
    return {'seconds': timed(contender.infer, steps)}
  if command == 'latency':
    return {'seconds': timed(contender.single, steps)}
  if command == 'memory':
    answer = {'rss_mb': rss_mb(), 'peak_rss_mb': peak_rss_mb()}
    answer.update(contender.memory() if hasattr(contender, 'memory') else {})
    return answer
  raise ValueError('unknown command %r' % command)


def runtime_info():
  """What sets this process's CPU speed: the kernel library switches it runs with and
  its thread counts (0: the library picks, one per core)."""
  info = {'environment': {name: os.environ[name] for name in CPU_VARIABLES
                          if name in os.environ}}
  if 'tensorflow' in sys.modules:
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port
    info['tensorflow_onednn'] = bool(_pywrap_util_port.IsMklEnabled())
    # The process-wide pools; a session's own config (ours: ours_settings) overrides them.
    info['tensorflow_process_threads'] = {
        'intra_op': tf.config.threading.get_intra_op_parallelism_threads(),
        'inter_op': tf.config.threading.get_inter_op_parallelism_threads()}
  if 'torch' in sys.modules:
    import torch
    info['torch_onednn'] = bool(torch.backends.mkldnn.is_available())
    info['torch_threads'] = {'intra_op': torch.get_num_threads(),
                             'inter_op': torch.get_num_interop_threads()}
  return info


def warm_up(contender, config):
  """Untimed runs of everything that will be timed (first runs pay for graph
  optimization, allocation and compilation)."""
  for command in ('train', 'infer', 'latency'):
    for _ in range(config['warmup']):
      run_command(contender, command, 1)


def main(argv):
  name, config = argv[0], json.loads(argv[1])
  start = time.perf_counter()
  contender = CONTENDERS[name](config)
  warm_up(contender, config)
  ready = dict(getattr(contender, 'info', {}), setup_seconds=time.perf_counter() - start)
  ready.update(run_command(contender, 'memory', 0))
  ready['runtime'] = runtime_info()
  print(json.dumps({'ready': ready}), flush=True)
  for line in sys.stdin:
    command = line.strip()
    if command == 'quit':
      break
    print(json.dumps(run_command(contender, command, config['steps'])), flush=True)


if __name__ == '__main__':
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  main(sys.argv[1:])
