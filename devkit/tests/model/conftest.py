from cephalon_devkit.testing.model import make_model_server, model_server  # noqa: F401
