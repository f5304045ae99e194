"""Developer CLI, local mode and emulators of the systems Cephalon cannot reach in tests."""
