"""skhtm: Hierarchical Temporal Memory as scikit-learn estimators for vision and video."""

from .encoders import ThermometerEncoder
from .patch_pooler import PatchSpatialPooler
from .pooling import SequencePooler
from .saccades import SaccadeEncoder
from .spatial_pooler import SpatialPoolerTransformer
from .temporal_memory import TemporalMemoryTransformer

__version__ = "0.1.0.dev0"

__all__ = [
    "PatchSpatialPooler",
    "SaccadeEncoder",
    "SequencePooler",
    "SpatialPoolerTransformer",
    "TemporalMemoryTransformer",
    "ThermometerEncoder",
    "__version__",
]
