"""Floor 3: "what is this tensor?". The weak registry, `AnnotatedTensor`, the lookup
every view reads (`annotation_of`), and the table through which the floors above give
core objects their text, HTML and pictures (`providers`)."""
