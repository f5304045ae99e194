"""Tests of the greet command line."""

from __future__ import annotations

import pytest
from greet import main


def test_greets_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    main(["Ada"])
    assert capsys.readouterr().out == "Hello, Ada!\n"


def test_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "name" in capsys.readouterr().err
