"""Floor 4: plain-tensor helpers: directions, layers, final states, lengths."""
