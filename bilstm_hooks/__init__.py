"""Named dimensions for PyTorch's recurrent layers: see what LSTM, GRU and RNN return."""

from ._base.errors import LayoutError as LayoutError
from ._base.errors import LayoutWarning as LayoutWarning
from ._base.errors import UnusedDirectionWarning as UnusedDirectionWarning
from ._base.version import __version__ as __version__
from ._core.annotated import AnnotatedTensor as AnnotatedTensor
from ._core.lookup import annotation_of as annotation_of
from ._core.picture import Diagram as Diagram
from ._display.repr_patch import patch_repr as patch_repr
from ._display.repr_patch import unpatch_repr as unpatch_repr
from ._display.summary import Summary as Summary
from ._display.summary import summary as summary
from ._display.text import describe as describe
from ._follow.mode import follow as follow
from ._helpers.last_outputs import last_outputs as last_outputs
from ._helpers.outputs import final_representation as final_representation
from ._helpers.outputs import split_directions as split_directions
from ._helpers.outputs import split_layers as split_layers
from ._names.layout import Axes as Axes
from ._recording.cell_record import CellRecord as CellRecord
from ._recording.cell_steps import CellSteps as CellSteps
from ._recording.model_check import Finding as Finding
from ._recording.model_check import LayoutReport as LayoutReport
from ._recording.model_check import check_model as check_model
from ._recording.record import Record as Record
from ._recording.recorder import Recorder as Recorder
from ._recording.recorder import attach_hooks as attach_hooks
from ._replay.saturation import Saturation as Saturation
from ._replay.unrolled import Unrolled as Unrolled

# The display floor registers the views of the objects below it (`_core.providers`):
# imported for that alone.
from ._display import cell_text, diagram, html, plot, text, unrolled_text  # isort: skip

del cell_text, diagram, html, plot, text, unrolled_text

__all__ = [
    "AnnotatedTensor",
    "Axes",
    "CellRecord",
    "CellSteps",
    "Diagram",
    "Finding",
    "LayoutError",
    "LayoutReport",
    "LayoutWarning",
    "Record",
    "Recorder",
    "Saturation",
    "Summary",
    "Unrolled",
    "UnusedDirectionWarning",
    "annotation_of",
    "attach_hooks",
    "check_model",
    "describe",
    "final_representation",
    "follow",
    "last_outputs",
    "patch_repr",
    "split_directions",
    "split_layers",
    "summary",
    "unpatch_repr",
]

from ._display.repr_patch import patch_from_environment  # noqa: E402

patch_from_environment()  # BILSTM_HOOKS_REPR=1: names in every repr of this process
del patch_from_environment
