"""Floor 2: named dims as data. Layouts and `Axes`, einops patterns, views derived
from strides, broadcast axes, notes. No tensor is kept, nothing is registered."""
