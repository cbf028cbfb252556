"""Floor 1, the ground: errors, argument checks, PackedSequence lengths, Dynamo's skip list.

Imports nothing of the package above it."""
