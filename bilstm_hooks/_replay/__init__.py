"""Floor 6: a recorded call replayed step by step (`Record.unroll()`), checked against
the fused call and read for saturation. It reads the call through `RecordedCall`
(a `Record` is one) and never imports the recording floor above it."""
