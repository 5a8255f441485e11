"""Graph building shared by training, evaluation and the benchmark: network, losses, train op."""

import collections

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.data import preprocessing
from legacy_resnet.graph import optimization
from legacy_resnet.graph import replication
from legacy_resnet.core import sessions
from legacy_resnet.core.errors import SettingError
from nets import nets_factory

ClassifierTensors = collections.namedtuple(
    'ClassifierTensors', 'images labels is_training logits end_points eval_logits eval_probabilities')
TrainingTensors = collections.namedtuple(
    'TrainingTensors', 'model global_step learning_rate loss cross_entropy accuracy train_op summary_op '
    'variables_to_train initializer')


def network_fn(model_name, num_classes, weight_decay=0.0, batch_norm_decay=None,
               pipeline=preprocessing.DEFAULT_PIPELINE):
  """The factory's network function behind ``pipeline``, or a SettingError naming ``model_name``."""
  arg_scope_args = {} if batch_norm_decay is None else {'batch_norm_decay': batch_norm_decay}
  try:
    network = nets_factory.get_network_fn(model_name, num_classes + pipeline.labels_offset,
                                          weight_decay=weight_decay, **arg_scope_args)
  except ValueError as error:
    raise SettingError('{model_name}: %s', error) from None
  return pipeline.wrap(network)


def input_placeholders(image_size):
  """images float32 [batch, height, width, 3] in [0, 1] and labels int64 [batch]."""
  height, width = image_size
  images = tf.compat.v1.placeholder(tf.float32, [None, height, width, 3], name='images')
  labels = tf.compat.v1.placeholder(tf.int64, [None], name='labels')
  return images, labels


def training_feed(model, images, labels):
  """The feed dict of one training step (``is_training`` fed True when it is a switch)."""
  feed = {model.images: images, model.labels: labels}
  if isinstance(model.is_training, tf.Tensor):
    feed[model.is_training] = True
  return feed


def variables_to_restore(moving_average_decay):
  """Checkpoint name -> variable for an evaluation graph's model variables; with a
  moving-average decay, each variable reads its averaged value from the checkpoint."""
  model_variables = slim.get_model_variables()
  if not moving_average_decay:
    return {variable.op.name: variable for variable in model_variables}
  averages = tf.compat.v1.train.ExponentialMovingAverage(moving_average_decay)
  return averages.variables_to_restore(model_variables)


@sessions.fast_graph_building()
def build_classifier(model_name, num_classes, image_size,
                     pipeline=preprocessing.DEFAULT_PIPELINE, **network_args):
  """Placeholders and the network in evaluation mode (batch norm on its moving statistics)
  in the current graph; ``network_args`` go to the network (e.g. ``output_stride=16``)."""
  images, labels = input_placeholders(image_size)
  logits, end_points = network_fn(model_name, num_classes, pipeline=pipeline)(
      images, is_training=False, **network_args)
  return ClassifierTensors(images, labels, False, logits, end_points, logits, end_points.get('predictions'))


def _variables_to_train(trainable_scopes):
  if not trainable_scopes:
    return tf.compat.v1.trainable_variables()
  chosen = []
  for scope in trainable_scopes:
    found = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, scope)
    if not found:
      raise SettingError('{trainable_scopes}: no trainable variable under %r', scope)
    chosen.extend(found)
  return chosen


def initializer(zero_init_residual, model_name):
  """Initializes all variables; with ``zero_init_residual``, then zeroes the batch-norm
  scales that network ``model_name`` (built under its own name) declares for it."""
  init_all = tf.compat.v1.global_variables_initializer()
  if not zero_init_residual:
    return init_all
  variables = {v.op.name: v for v in slim.get_model_variables()}
  gammas = [variables[model_name + '/' + name]
            for name in nets_factory.declaration(model_name).zero_init_scales]
  with tf.control_dependencies([init_all]):
    return tf.group([v.assign(tf.zeros_like(v)) for v in gammas], name='init')


def _gated(gradient):
  """``gradient`` behind the current control dependencies (None stays None)."""
  if gradient is None:
    return None
  if isinstance(gradient, tf.IndexedSlices):
    return tf.IndexedSlices(tf.identity(gradient.values), gradient.indices, gradient.dense_shape)
  return tf.identity(gradient)


@sessions.fast_graph_building()
def build_training(settings, num_classes, image_size, steps_per_epoch, total_steps,
                   clones=None, wrap_optimizer=None, batch_norm_switch=False):
  """The TrainingTensors of the whole training graph, built into the current graph.

  The training towers' batch norm runs on batch statistics, its moving statistics updated
  before the gradients are applied; ``eval_logits`` come from a second tower on the same
  variables with batch norm on the moving statistics (and, with a moving-average decay,
  reading the weights' averages). ``settings`` is a TrainSettings; ``image_size`` (height,
  width); ``clones`` from ``replication.clones`` split the fed batch (default: one);
  ``wrap_optimizer`` maps the optimizer to the one that applies the gradients (e.g.
  ``SyncReplicasOptimizer``). ``batch_norm_switch``: the older, slower-to-start layout kept
  as the tests' reference: one tower whose batch norm an ``is_training`` placeholder
  (default False) switches.
  """
  clones = clones or replication.clones(1, False, 0)
  # Variables outside the network go where the clones' are.
  with tf.compat.v1.device(replication.VARIABLES_DEVICE if clones[0].scope else ''):
    global_step = tf.compat.v1.train.get_or_create_global_step()
  model = settings.model
  network = network_fn(model.model_name, num_classes, model.weight_decay,
                       model.batch_norm_decay, preprocessing.InputPipeline.from_settings(settings.input))
  images, labels = input_placeholders(image_size)
  is_training = (tf.compat.v1.placeholder_with_default(False, [], name='is_training')
                 if batch_norm_switch else True)

  rate = optimization.learning_rate(global_step, settings.schedule, total_steps, steps_per_epoch)
  optimizer = optimization.optimizer(settings.optimizer, rate)
  if wrap_optimizer:
    optimizer = wrap_optimizer(optimizer)

  clone_logits, clone_cross_entropies, clone_gradients = [], [], []
  parts = zip(replication.split_batch(images, len(clones)), replication.split_batch(labels, len(clones)))
  for index, (clone, (clone_images, clone_labels)) in enumerate(zip(clones, parts)):
    with replication.clone_scope(clone, index):
      logits, clone_end_points = network(clone_images, is_training=is_training)
      cross_entropy = tf.compat.v1.losses.softmax_cross_entropy(
          tf.one_hot(clone_labels, num_classes), logits,
          label_smoothing=model.label_smoothing, loss_collection=None)
      clone_loss = cross_entropy / len(clones)
      if index == 0:
        end_points = clone_end_points
        variables_to_train = _variables_to_train(model.trainable_scopes)
        clone_loss += tf.compat.v1.losses.get_regularization_loss()
      clone_gradients.append(optimizer.compute_gradients(clone_loss, var_list=variables_to_train))
      clone_logits.append(logits)
      clone_cross_entropies.append(cross_entropy)

  logits = tf.concat(clone_logits, 0) if len(clones) > 1 else clone_logits[0]
  cross_entropy = tf.add_n(clone_cross_entropies) / len(clones)
  loss = tf.add(cross_entropy, tf.compat.v1.losses.get_regularization_loss(), name='loss')
  accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32), name='accuracy')
  # The batch-norm updates gate the gradients, not the whole apply step: the ops an
  # optimizer wrapper creates inside apply_gradients (SyncReplicasOptimizer's token
  # queue and readiness checks) must run without a fed batch.
  # One group op carries the updates: each gradient then waits on a single control
  # input instead of one per batch-norm layer, which spares grappler's dependency
  # optimizer tens of thousands of edges at the first step (bench/startup_phases.py).
  updates = tf.group(replication.update_ops(clones[0]), name='batch_norm_updates')
  with tf.control_dependencies([updates]):
    gradients = [(_gated(gradient), variable)
                 for gradient, variable in replication.summed_gradients(clone_gradients)]
  train_op = optimizer.apply_gradients(gradients, global_step=global_step)

  eval_logits = logits
  custom_getter = None
  if model.moving_average_decay:
    moving_average = tf.compat.v1.train.ExponentialMovingAverage(
        model.moving_average_decay, num_updates=global_step)
    with tf.control_dependencies([train_op]):
      train_op = moving_average.apply(slim.get_model_variables())

    def custom_getter(next_getter, name, *args, **kwargs):  # Each variable's moving average.
      variable = next_getter(name, *args, **kwargs)
      average = moving_average.average(variable)
      return variable if average is None else average

  if custom_getter or len(clones) > 1 or not batch_norm_switch:
    # An unsplit evaluation tower on the first clone's device.
    with tf.compat.v1.device(clones[0].device), tf.compat.v1.variable_scope(
        tf.compat.v1.get_variable_scope(), reuse=True, custom_getter=custom_getter):
      eval_logits, _ = network(images, is_training=False, reuse=True)

  for name, value in (('loss', loss), ('cross_entropy', cross_entropy),
                      ('accuracy', accuracy), ('learning_rate', rate)):
    tf.compat.v1.summary.scalar(name, value)
  tensors = ClassifierTensors(images, labels, is_training, logits, end_points, eval_logits,
                              tf.nn.softmax(eval_logits, name='eval_probabilities'))
  return TrainingTensors(tensors, global_step, rate, loss, cross_entropy, accuracy, train_op,
                         tf.compat.v1.summary.merge_all(), variables_to_train,
                         initializer(model.zero_init_residual, model.model_name))
