"""A Kubernetes API server emulator for tests and local mode (see ``docs/devkit.md``).

``KubeApiServer`` serves :class:`KubeApi` over HTTP on 127.0.0.1; ``KubeApi`` is the
store and the API's write semantics without HTTP.
"""

from .api import KubeApi
from .errors import ApiError
from .lifecycle import WriteContext
from .server import KubeApiServer, ThreadedKubeApiServer

__all__ = ["ApiError", "KubeApi", "KubeApiServer", "ThreadedKubeApiServer", "WriteContext"]
