"""CustomResourceDefinitions generated from the resource models, and validation of
objects against their structural schemas (the same rules the API server applies)."""

from .generate import crd_manifest, render_crd_yaml, structural_schema
from .validation import FieldError, apply_defaults, prune_unknown, validate_object

__all__ = [
    "FieldError",
    "apply_defaults",
    "crd_manifest",
    "prune_unknown",
    "render_crd_yaml",
    "structural_schema",
    "validate_object",
]
