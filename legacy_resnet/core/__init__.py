"""What everything else stands on: TensorFlow and tf-slim made to work together
(compat, slim_repairs, onednn, private_apis), sessions, the errors and the
command-line rule that turns them into one line, and safe file writing."""
