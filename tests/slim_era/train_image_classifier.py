"""Trains a ResNet on the two-colours dataset, written as the TensorFlow 1.15
research/slim train_image_classifier.py was: tf.app flags, a queue-fed slim
DatasetDataProvider on the CPU, the model pinned to a GPU clone device as model_deploy
placed it, and slim.learning.train's Supervisor saving checkpoints. For
tests/test_launcher.py, which runs it with legacy-resnet-run."""

import tensorflow as tf
from datasets import two_colors
from tensorflow.contrib import quantize as contrib_quantize
from tensorflow.contrib import slim as contrib_slim

from nets import nets_factory

slim = contrib_slim

tf.app.flags.DEFINE_string('dataset_dir', None, 'The folder of the TFRecord files.')
tf.app.flags.DEFINE_string('train_dir', '/tmp/tfmodel/',
                           'Where checkpoints and event logs are written.')
tf.app.flags.DEFINE_string('model_name', 'resnet_v1_18', 'The network to train.')
tf.app.flags.DEFINE_string('clone_device', '/device:GPU:0',
                           'The device of the model (model_deploy put its clones on GPUs).')
tf.app.flags.DEFINE_integer('batch_size', 4, 'Examples in each batch.')
tf.app.flags.DEFINE_integer('max_number_of_steps', 3, 'Training steps.')
tf.app.flags.DEFINE_float('learning_rate', 0.01, 'The learning rate.')
tf.app.flags.DEFINE_float('weight_decay', 0.00004, 'L2 penalty on the weights.')
tf.app.flags.DEFINE_integer('quantize_delay', -1,
                            'Steps after which weights and activations are quantized; '
                            '-1: no quantization.')

FLAGS = tf.app.flags.FLAGS


def batch_of_examples(dataset):
  """Images [batch, 32, 32, 3] in [-1, 1] and one-hot labels, from input queues."""
  provider = slim.dataset_data_provider.DatasetDataProvider(
      dataset, num_readers=1, common_queue_capacity=4 * FLAGS.batch_size,
      common_queue_min=2 * FLAGS.batch_size)
  image, label = provider.get(['image', 'label'])
  images, labels = tf.train.batch([two_colors.preprocess(image), label],
                                  batch_size=FLAGS.batch_size, num_threads=1,
                                  capacity=4 * FLAGS.batch_size)
  return images, slim.one_hot_encoding(labels, dataset.num_classes)


def main(_):
  if not FLAGS.dataset_dir:
    raise ValueError('You must supply the dataset directory with --dataset_dir')
  tf.logging.set_verbosity(tf.logging.INFO)
  with tf.Graph().as_default():
    global_step = slim.create_global_step()
    dataset = two_colors.get_split('train', FLAGS.dataset_dir)
    network_fn = nets_factory.get_network_fn(FLAGS.model_name, num_classes=dataset.num_classes,
                                             weight_decay=FLAGS.weight_decay, is_training=True)
    with tf.device('/device:CPU:0'):
      images, labels = batch_of_examples(dataset)
    with tf.device(FLAGS.clone_device):
      logits, _ = network_fn(images)
      tf.losses.softmax_cross_entropy(labels, logits)
    total_loss = tf.losses.get_total_loss()
    if FLAGS.quantize_delay >= 0:
      contrib_quantize.create_training_graph(quant_delay=FLAGS.quantize_delay)
    tf.summary.scalar('losses/total_loss', total_loss)
    optimizer = tf.train.MomentumOptimizer(FLAGS.learning_rate, momentum=0.9)
    train_op = slim.learning.create_train_op(total_loss, optimizer, global_step=global_step)
    slim.learning.train(train_op, logdir=FLAGS.train_dir,
                        number_of_steps=FLAGS.max_number_of_steps, log_every_n_steps=1,
                        save_summaries_secs=600, save_interval_secs=600)


if __name__ == '__main__':
  tf.app.run()
