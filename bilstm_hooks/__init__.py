"""Named dimensions for PyTorch's recurrent layers: see what LSTM, GRU and RNN return."""

from ._annotated import AnnotatedTensor as AnnotatedTensor
from ._display import describe as describe
from ._errors import LayoutError as LayoutError
from ._errors import LayoutWarning as LayoutWarning
from ._follow import follow as follow
from ._helpers import final_representation as final_representation
from ._helpers import last_outputs as last_outputs
from ._helpers import split_directions as split_directions
from ._helpers import split_layers as split_layers
from ._identity import annotation_of as annotation_of
from ._record import Record as Record
from ._recorder import Recorder as Recorder
from ._recorder import attach_hooks as attach_hooks
from ._summary import summary as summary

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
