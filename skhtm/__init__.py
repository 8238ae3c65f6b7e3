"""skhtm: Hierarchical Temporal Memory as scikit-learn estimators for vision and video."""

from ._base import skops_trusted_types
from ._version import __version__
from .encoders import ThermometerEncoder
from .object_layer import ObjectLayerClassifier
from .patch_pooler import PatchSpatialPooler
from .pooling import SequencePooler
from .saccades import SaccadeEncoder
from .spatial_pooler import SpatialPoolerTransformer
from .temporal_memory import TemporalMemoryTransformer
from .union import PooledFeatureUnion

__all__ = [
    "ObjectLayerClassifier",
    "PatchSpatialPooler",
    "PooledFeatureUnion",
    "SaccadeEncoder",
    "SequencePooler",
    "SpatialPoolerTransformer",
    "TemporalMemoryTransformer",
    "ThermometerEncoder",
    "__version__",
    "skops_trusted_types",
]
