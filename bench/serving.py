#!/usr/bin/env python3
"""Inference of one checkpoint in each runtime of ``eval_graph.py --runtime``, side by
side with today's TensorFlow path (``evaluation.RestoredClassifier``, the folded frozen
graph):

    python bench/serving.py --checkpoint_path TRAIN_DIR_OR_PREFIX [--rounds 10]

In one process, batches of 32 random images and single images go through every runtime
in alternated rounds (each round in a rotated order) after untimed warm-up calls; then
``eval_graph.py --images`` is launched for one image with each runtime in turn,
``--launches`` times, timed from launch to exit (its one prediction printed). The ONNX
model is converted before timing starts (kept beside the checkpoint, as
``eval_graph.py`` keeps it). Prints a Markdown table: medians, the spread over rounds
(lowest-highest) and each runtime's ratio to TensorFlow (above 1: faster).

Run it again with ``ONEDNN_MAX_CPU_ISA=AVX2`` in the environment to cap TensorFlow's
oneDNN kernels at AVX2 (an AVX2-only CPU, approximately).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 32


def _timed_rounds(runs, batch, rounds):
  """{name: [seconds of one call per round]}, rotated order, after 2 untimed calls."""
  for run in runs.values():
    for _ in range(2):
      run(batch)
  names = list(runs)
  times = {name: [] for name in names}
  for index in range(rounds):
    shift = index % len(names)
    for name in names[shift:] + names[:shift]:
      start = time.perf_counter()
      runs[name](batch)
      times[name].append(time.perf_counter() - start)
  return times


def _launch_seconds(checkpoint_path, runtimes, launches, image):
  """{runtime: [seconds from launching eval_graph.py --images IMAGE to its exit]}."""
  times = {runtime: [] for runtime in runtimes}
  for index in range(launches):
    shift = index % len(runtimes)
    for runtime in runtimes[shift:] + runtimes[:shift]:
      start = time.perf_counter()
      subprocess.run([sys.executable, os.path.join(ROOT, 'eval_graph.py'), '--checkpoint_path',
                      checkpoint_path, '--runtime', runtime, '--images', image, '--top_k', '1'],
                     check=True, capture_output=True, cwd=ROOT)
      times[runtime].append(time.perf_counter() - start)
  return times


def _row(title, values, unit_value, higher_is_better):
  """One table row: median (lowest-highest) per runtime, then ratios to tensorflow."""
  medians = {name: statistics.median(unit_value(v) for v in seconds)
             for name, seconds in values.items()}
  cells = ['%.1f (%.1f-%.1f)' % (medians[name], min(map(unit_value, seconds)),
                                 max(map(unit_value, seconds)))
           for name, seconds in values.items()]
  base = medians['tensorflow']
  ratios = ['%.2fx' % ((medians[name] / base) if higher_is_better else (base / medians[name]))
            for name in values if name != 'tensorflow']
  return '| %s | %s | %s |' % (title, ' | '.join(cells), ' | '.join(ratios))


def _measure(argv):
  import benchmark  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from legacy_resnet.core import cli
  from legacy_resnet.serve import runtimes  # pylint: disable=g-import-not-at-top
  parser = cli.ArgumentParser(prog='bench/serving.py', description=__doc__)
  parser.add_argument('--checkpoint_path', required=True, help='train dir or checkpoint prefix')
  parser.add_argument('--rounds', type=cli.positive_int, default=10)
  parser.add_argument('--launches', type=cli.non_negative_int, default=3)
  parser.add_argument('--runtimes', type=cli.comma_list, default=','.join(runtimes.RUNTIMES))
  settings = parser.parse_args(argv)
  names = ['tensorflow'] + [name for name in settings.runtimes if name != 'tensorflow']
  classifiers = {name: runtimes.restored_classifier(settings.checkpoint_path, name)
                 for name in names}
  runs = {name: classifier.probabilities for name, classifier in classifiers.items()}
  tensorflow = classifiers['tensorflow']
  images = np.random.default_rng(0).random((BATCH,) + tensorflow.image_size + (3,),
                                           dtype=np.float32)
  batch_times = _timed_rounds(runs, images, settings.rounds)
  single_times = _timed_rounds(runs, images[:1], settings.rounds)
  for classifier in classifiers.values():
    classifier.close()
  with tempfile.TemporaryDirectory(prefix='serving-bench-') as scratch:
    image = os.path.join(scratch, 'image.png')
    tf.io.write_file(image, tf.io.encode_png(tf.cast(images[0] * 255, tf.uint8)))
    launch_times = _launch_seconds(settings.checkpoint_path, names, settings.launches, image)
  isa = os.environ.get('ONEDNN_MAX_CPU_ISA', 'not set (all the CPU has)')
  print('%s, %s at %dx%d; ONEDNN_MAX_CPU_ISA %s; medians (lowest-highest) of %d '
        'alternated rounds, %d launches each\n'
        % (benchmark._cpu_model(),  # pylint: disable=protected-access
           tensorflow.metadata['model_name'], *tensorflow.image_size, isa,
           settings.rounds, settings.launches))
  print('| | ' + ' | '.join(names) + ' | ' +
        ' | '.join('%s / tensorflow' % name for name in names[1:]) + ' |')
  print('|---' * (2 * len(names)) + '|')
  print(_row('batch %d, images/s' % BATCH, batch_times, lambda s: BATCH / s, True))
  print(_row('single image, ms', single_times, lambda s: 1000.0 * s, False))
  if settings.launches:
    print(_row('launch to first prediction (one image), s', launch_times, lambda s: s, False))


def main(argv):
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  from legacy_resnet.core import cli  # pylint: disable=g-import-not-at-top
  return cli.run(_measure, argv)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
