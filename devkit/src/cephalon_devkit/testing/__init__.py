"""pytest plugins for Cephalon's emulators; each module registers its own fixtures."""
