#!/usr/bin/env python3
"""Inference of one checkpoint through three graphs, alternated in one process: the
restored evaluation graph, its frozen copy with the batch norms kept, and the frozen
copy with the batch norms folded into the convolutions (what ``eval_graph.py`` runs).

    python -m bench.inference_graphs --checkpoint_path TRAIN_DIR_OR_PREFIX [--rounds 30]

Prints the median milliseconds per batch of 32 random images and per single image, and
the ratios of the folded graph to the other two (above 1: folded is faster).
"""

import os
import sys
import time


def _median_milliseconds(runs, images, rounds):
  """{name: median ms} of each run over ``images``, alternated for ``rounds`` rounds
  after 3 untimed calls each."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  for run in runs.values():
    for _ in range(3):
      run(images)
  times = {name: [] for name in runs}
  for _ in range(rounds):
    for name, run in runs.items():
      start = time.perf_counter()
      run(images)
      times[name].append(time.perf_counter() - start)
  return {name: 1000.0 * float(np.median(values)) for name, values in times.items()}


def _measure(argv):
  import numpy as np  # pylint: disable=g-import-not-at-top

  from legacy_resnet.evaluate import evaluation
  from legacy_resnet.graph import inference_graph  # pylint: disable=g-import-not-at-top
  from legacy_resnet.core import cli
  parser = cli.ArgumentParser(prog='python -m bench.inference_graphs', description=__doc__)
  parser.add_argument('--checkpoint_path', required=True, help='train dir or checkpoint prefix')
  parser.add_argument('--rounds', type=cli.positive_int, default=30)
  settings = parser.parse_args(argv)
  classifier = evaluation.RestoredClassifier(settings.checkpoint_path)
  tensors = classifier.tensors
  graphs = {'kept': inference_graph.FrozenOutput(
                classifier.session, tensors.images, tensors.eval_probabilities,
                classifier.config, fold=False),
            'folded': inference_graph.FrozenOutput(
                classifier.session, tensors.images, tensors.eval_probabilities,
                classifier.config)}
  runs = {'restored': lambda batch: classifier.session.run(
      tensors.eval_probabilities, {tensors.images: batch})}
  for name, frozen in graphs.items():
    runs[name] = lambda batch, frozen=frozen: frozen.session.run(
        frozen.output, {frozen.inputs: batch})
  images = np.random.default_rng(0).random(
      (32,) + classifier.image_size + (3,), dtype=np.float32)
  print('%s, %d batch norms folded; median of %d alternated rounds'
        % (classifier.metadata['model_name'], graphs['folded'].folded, settings.rounds))
  for batch in (images, images[:1]):
    medians = _median_milliseconds(runs, batch, settings.rounds)
    print('batch %2d: restored %.1f ms, frozen with batch norms %.1f ms, folded %.1f ms; '
          'folded is %.2fx the restored graph, %.2fx the frozen one'
          % (len(batch), medians['restored'], medians['kept'], medians['folded'],
             medians['restored'] / medians['folded'], medians['kept'] / medians['folded']))
  for frozen in graphs.values():
    frozen.session.close()
  classifier.close()


def main(argv):
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  from legacy_resnet.core import cli  # pylint: disable=g-import-not-at-top
  return cli.run(_measure, argv)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
