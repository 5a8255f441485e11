"""What everything else stands on: TensorFlow and tf-slim made to work together, sessions,
errors and the command-line rule that turns them into one line, safe file writing, limits."""
