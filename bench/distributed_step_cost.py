#!/usr/bin/env python3
"""How the cost of a training step grows with the number of workers of a
parameter-server cluster on this machine (1 ps, loopback).

    python -m bench.distributed_step_cost --workers 1 2 4 --modes sync async

For each mode and worker count it runs ``python -m legacy_resnet.scale_out.launch_local`` on the
synthetic set (written once to a temporary folder), reads each worker's closing line
``done at global step N (K steps, median S s per step)``, and prints a Markdown table:
the median over workers of their median seconds per step, and the aggregate images
per second (the sum over workers of batch size / their median step).

All processes share this machine's cores, so the numbers show what the protocol and
the gradient aggregation cost when workers compete for the same CPU, not how a
cluster of separate machines scales.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DONE = re.compile(r'^\[worker:(\d+)\] .*done at global step (\d+) \((\d+) steps, median '
                  r'([0-9.]+) s per step\)$')


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--workers', type=int, nargs='+', default=[1, 2, 4])
  p.add_argument('--modes', nargs='+', choices=('sync', 'async'), default=['sync', 'async'])
  p.add_argument('--steps', type=int, default=40, help='steps each worker runs (about)')
  p.add_argument('--batch_size', type=int, default=16, help='per worker')
  p.add_argument('--model_name', default='resnet_v1_18')
  p.add_argument('--timeout', type=float, default=900.0, help='per cluster run')
  return p.parse_args(argv)


def run_cluster(settings, dataset_dir, train_dir, num_workers, mode):
  """{worker index: (steps, median seconds per step)} and wall seconds of one run."""
  # Synchronous: every worker takes part in every global step. Asynchronous: each
  # worker step is a global step, so the run needs num_workers times as many.
  total = settings.steps * (num_workers if mode == 'async' else 1)
  argv = [sys.executable, '-m', 'legacy_resnet.scale_out.launch_local', '--ps', '1', '--workers',
          str(num_workers), '--timeout', str(settings.timeout), '--',
          '--dataset_dir', dataset_dir, '--train_dir', train_dir,
          '--model_name', settings.model_name, '--batch_size', str(settings.batch_size),
          '--max_number_of_steps', str(total),
          '--sync_replicas' if mode == 'sync' else '--no-sync_replicas']
  start = time.monotonic()
  result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
  wall = time.monotonic() - start
  if result.returncode != 0:
    sys.exit('cluster run failed (%d workers, %s):\n%s%s'
             % (num_workers, mode, result.stdout, result.stderr))
  timings = {}
  for line in result.stdout.splitlines():
    match = DONE.match(line)
    if match:
      timings[int(match.group(1))] = (int(match.group(3)), float(match.group(4)))
  if len(timings) != num_workers:
    sys.exit('expected %d worker timing lines:\n%s' % (num_workers, result.stdout))
  return timings, wall


def main(argv):
  settings = parse_args(argv)
  from legacy_resnet.data import synthetic_signs  # pylint: disable=import-outside-toplevel
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    dataset_dir = os.path.join(folder, 'signs')
    synthetic_signs.write_signs_files(dataset_dir)
    for mode in settings.modes:
      for num_workers in settings.workers:
        train_dir = os.path.join(folder, '%s-%d' % (mode, num_workers))
        timings, wall = run_cluster(settings, dataset_dir, train_dir, num_workers, mode)
        medians = [median for _, median in timings.values()]
        rows.append((mode, num_workers, statistics.median(medians),
                     sum(settings.batch_size / median for median in medians),
                     min(steps for steps, _ in timings.values()), wall))
        print('%s %d worker(s): %.3f s per step, %.1f images/s' % rows[-1][:4], flush=True)
  print('\n| mode | workers | median s/step per worker | aggregate images/s | steps per '
        'worker (min) | wall s (incl. start-up) |')
  print('|---|---|---|---|---|---|')
  for mode, workers, seconds, images, steps, wall in rows:
    print('| %s | %d | %.3f | %.1f | %d | %.0f |' % (mode, workers, seconds, images, steps, wall))


if __name__ == '__main__':
  main(sys.argv[1:])
