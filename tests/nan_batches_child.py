"""Runs a script (``FROM_STEP PATH args...``) as ``python PATH args...`` would, but with
every training batch from global step FROM_STEP on all NaN: a fault injected into one
process of a cluster (tests/test_distributed.py), as tests/test_fault_injection.py
injects one into a one-process run."""

import os
import runpy
import sys

import numpy as np


def main():
  from_step, target = int(sys.argv[1]), sys.argv[2]
  sys.path[0] = os.getcwd()  # As for `python script` run from the project's folder.
  from legacy_resnet import batching  # pylint: disable=import-outside-toplevel
  real_batch = batching.training_batch

  def poisoned_batch(split, batch_size, seed, step, *args, **kwargs):
    images, labels = real_batch(split, batch_size, seed, step, *args, **kwargs)
    if step + 1 >= from_step:  # The batch of step ``step`` makes global step step + 1.
      images = np.full_like(images, np.nan)
    return images, labels

  batching.training_batch = poisoned_batch
  sys.argv = sys.argv[2:]
  runpy.run_path(target, run_name='__main__')


if __name__ == '__main__':
  main()
