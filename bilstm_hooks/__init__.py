"""Named dimensions for PyTorch's recurrent layers: see what LSTM, GRU and RNN return."""

from ._base.errors import LayoutError as LayoutError
from ._base.errors import LayoutWarning as LayoutWarning
from ._core.annotated import AnnotatedTensor as AnnotatedTensor
from ._core.lookup import annotation_of as annotation_of
from ._display.summary import summary as summary
from ._display.text import describe as describe
from ._follow.mode import follow as follow
from ._helpers.outputs import final_representation as final_representation
from ._helpers.outputs import last_outputs as last_outputs
from ._helpers.outputs import split_directions as split_directions
from ._helpers.outputs import split_layers as split_layers
from ._recording.record import Record as Record
from ._recording.recorder import Recorder as Recorder
from ._recording.recorder import attach_hooks as attach_hooks

__version__ = "0.1.0"

__all__ = [
    "AnnotatedTensor",
    "LayoutError",
    "LayoutWarning",
    "Record",
    "Recorder",
    "annotation_of",
    "attach_hooks",
    "describe",
    "final_representation",
    "follow",
    "last_outputs",
    "split_directions",
    "split_layers",
    "summary",
]
