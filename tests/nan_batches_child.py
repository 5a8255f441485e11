"""Runs a script (``FROM_STEP PATH args...``) as ``python PATH args...`` would, but with
every training batch from global step FROM_STEP on all NaN: a fault injected into one
process of a cluster (tests/test_distributed.py), as tests/test_fault_injection.py
injects one into a one-process run."""

import os
import sys

import numpy as np
import scriptutil


def main():
  from_step = int(sys.argv[1])
  sys.path[0] = os.getcwd()  # As for `python script` run from the project's folder.
  from legacy_resnet.data import batching  # pylint: disable=import-outside-toplevel
  real_batch = batching.training_batch

  def poisoned_batch(split, batch_size, seed, step, *args, **kwargs):
    images, labels = real_batch(split, batch_size, seed, step, *args, **kwargs)
    if step + 1 >= from_step:  # The batch of step ``step`` makes global step step + 1.
      images = np.full_like(images, np.nan)
    return images, labels

  batching.training_batch = poisoned_batch
  scriptutil.run_as_main(sys.argv[2:])


if __name__ == '__main__':
  main()
