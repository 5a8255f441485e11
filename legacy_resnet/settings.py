"""What a training run is told, as typed, frozen values: the library reads these, never
the command line's parsed flags.

``train_cli.train_settings`` builds one ``TrainSettings`` from ``train_graph.py``'s
flags, each field from the flag of the same name; tests/test_settings.py checks that
every flag (but the command-line-only ``--verbose``) fills a field and every field is
filled. The groups:

- ``ModelSettings``: the network and what shapes its weights (regularization, batch
  norm, moving averages, label smoothing, which scopes train).
- ``InputSettings``: preprocessing (recorded with the run, applied by evaluation too)
  and the random augmentation of training batches.
- ``DataSettings``: where the data is, how it is split and batched, and the seed.
- ``OptimizerSettings``: the optimizer and its hyper-parameters.
- ``ScheduleSettings``: the learning-rate schedule and the length of the run.
- ``RunSettings``: the train dir, checkpoints, warm start, summaries, threads,
  devices and the number format (precision).
- ``ClusterSettings``: the parameter-server cluster, when there is one.
"""

import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class ModelSettings:
  model_name: str
  weight_decay: float
  batch_norm_decay: float
  zero_init_residual: bool
  moving_average_decay: Optional[float]
  label_smoothing: float
  trainable_scopes: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class InputSettings:
  preprocessing_name: str
  train_image_size: Optional[int]
  eval_image_size: Optional[int]
  labels_offset: int
  random_shift: int
  horizontal_flip: bool
  random_brightness: float
  random_contrast: float


@dataclasses.dataclass(frozen=True)
class DataSettings:
  dataset_dir: Optional[str]
  validation_split: float
  batch_size: int
  seed: int


@dataclasses.dataclass(frozen=True)
class OptimizerSettings:
  optimizer: str
  momentum: float
  adam_beta1: float
  adam_beta2: float
  opt_epsilon: float
  rmsprop_decay: float
  rmsprop_momentum: float


@dataclasses.dataclass(frozen=True)
class ScheduleSettings:
  learning_rate: float
  learning_rate_decay_type: str
  warmup_epochs: float
  learning_rate_decay_factor: float
  num_epochs_per_decay: float
  end_learning_rate: float
  num_epochs: float
  max_number_of_steps: Optional[int]


@dataclasses.dataclass(frozen=True)
class RunSettings:
  train_dir: str
  save_every_n_steps: int
  save_interval_secs: float
  max_to_keep: int
  checkpoint_path: Optional[str]
  checkpoint_exclude_scopes: Tuple[str, ...]
  ignore_missing_vars: bool
  log_every_n_steps: int
  num_intra_threads: int
  num_inter_threads: int
  num_clones: int
  clone_on_cpu: bool
  xla: bool
  precision: str


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
  ps_hosts: Optional[str]
  worker_hosts: Optional[str]
  job_name: Optional[str]
  task_index: Optional[int]
  sync_replicas: bool
  replicas_to_aggregate: Optional[int]
  ps_timeout_secs: float


@dataclasses.dataclass(frozen=True)
class TrainSettings:
  """One training run's settings, by group."""
  model: ModelSettings
  input: InputSettings
  data: DataSettings
  optimizer: OptimizerSettings
  schedule: ScheduleSettings
  run: RunSettings
  cluster: ClusterSettings


def groups():
  """{field of TrainSettings: its dataclass}, in order."""
  return {field.name: field.type for field in dataclasses.fields(TrainSettings)}

