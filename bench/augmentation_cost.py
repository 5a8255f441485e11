"""What each --augmentation preset costs per training batch, outside the network:

  python -m bench.augmentation_cost

times ``batching.training_batch`` (the function the trainer calls for every step) on the
embedded synthetic set, 60 batches of 32 per preset, and prints the medians.
"""

import sys
import time

import numpy as np

from legacy_resnet.data import batching
from legacy_resnet.data import datasets
from legacy_resnet.data import photo_augmentation
from legacy_resnet.programs import train_cli
from legacy_resnet.settings import derived

BATCHES, BATCH_SIZE = 60, 32


def main(argv):
  presets = argv or sorted(photo_augmentation.PRESETS)
  data = datasets.training_data(None, 0.1, 0)
  for preset in presets:
    settings = train_cli.settings_of(['--augmentation', preset])
    augmentation = derived.augmentation(settings.input)
    times = []
    for step in range(BATCHES):
      start = time.perf_counter()
      batching.training_batch(data.train, BATCH_SIZE, 0, step, augmentation)
      times.append(time.perf_counter() - start)
    print('--augmentation %s: median %.1f ms per batch of %d (%d batches)'
          % (preset, 1000 * np.median(times), BATCH_SIZE, BATCHES))


if __name__ == '__main__':
  main(sys.argv[1:])
