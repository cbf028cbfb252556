"""Floor 7: a recorded call replayed step by step (`Record.unroll()`), checked and
read for saturation."""
