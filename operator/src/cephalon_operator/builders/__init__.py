"""Pure functions that build the manifests the operator applies.

They take validated models and settings and return plain JSON-shaped dicts
(:data:`Manifest`), never touching the API, so tests can compare them with the exact
expected objects and run the Pod Security checker over every combination.
"""

from typing import Any

#: A Kubernetes object as the API accepts it (JSON-shaped).
Manifest = dict[str, Any]
