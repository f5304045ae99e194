"""Root pytest configuration: registers the devkit's fixture plugins (pytest accepts
``pytest_plugins`` only here). Importing them starts nothing; fixtures do, on use."""

pytest_plugins = [
    "cephalon_devkit.testing.redis",
    "cephalon_devkit.testing.discord",
]
