"""Importers for the official PyTorch ALAE parameters (podgorskiy/ALAE)."""

from alae_tf.convert.official import (
    ConversionError,
    OfficialParameter,
    export_official,
    import_official,
    mlp_parameter_map,
    style_parameter_map,
)

__all__ = [
    "ConversionError",
    "OfficialParameter",
    "export_official",
    "import_official",
    "mlp_parameter_map",
    "style_parameter_map",
]
