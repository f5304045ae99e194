"""PolicyFiles and decoding: size cap, UTF-8, normalization, safe paths."""

from __future__ import annotations

import pytest

from cephalon_contracts.errors import ErrorCode
from cephalon_policy import MAX_POLICY_FILE_BYTES, PolicyFiles, PolicyFileTooLargeError
from cephalon_policy.errors import PolicyReadError
from cephalon_policy.files import decode_policy_text, normalize_relative_path


def test_entries_are_sorted_whatever_the_insertion_order() -> None:
    a = PolicyFiles("workspace", {"b.md": "b", "a/AGENTS.md": "x", "AGENTS.md": "y"})
    b = PolicyFiles("workspace", {"AGENTS.md": "y", "b.md": "b", "a/AGENTS.md": "x"})
    assert list(a) == ["AGENTS.md", "a/AGENTS.md", "b.md"]
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.md", "a/../../b.md", "a\\b.md"])
def test_paths_outside_the_root_are_rejected(path: str) -> None:
    with pytest.raises(ValueError):
        PolicyFiles("workspace", {path: "x"})


def test_paths_are_normalized() -> None:
    assert normalize_relative_path("./a//b/./AGENTS.md") == "a/b/AGENTS.md"
    assert normalize_relative_path(".") == ""
    assert "a/AGENTS.md" in PolicyFiles("workspace", {"./a/AGENTS.md": "x"})


def test_a_file_at_the_cap_is_accepted_and_one_byte_more_is_not() -> None:
    assert decode_policy_text("workspace", "AGENTS.md", b"a" * MAX_POLICY_FILE_BYTES)
    with pytest.raises(PolicyFileTooLargeError) as caught:
        decode_policy_text("workspace", "AGENTS.md", b"a" * (MAX_POLICY_FILE_BYTES + 1))
    error = caught.value
    assert error.error_code is ErrorCode.POLICY_FILE_TOO_LARGE
    assert error.file == "AGENTS.md" and error.line == 1
    assert "AGENTS.md:1" in error.message


def test_too_large_names_the_line_where_the_cap_falls() -> None:
    data = b"0123456789\n" * 4000  # 44,000 bytes; byte 32,768 lies on line 2,979
    with pytest.raises(PolicyFileTooLargeError) as caught:
        decode_policy_text("tenant", "RULES.md", data)
    assert caught.value.line == MAX_POLICY_FILE_BYTES // 11 + 1
    assert caught.value.details["max_bytes"] == MAX_POLICY_FILE_BYTES
    assert caught.value.message.startswith("tenant RULES.md:")


def test_invalid_utf8_names_the_line() -> None:
    with pytest.raises(PolicyReadError) as caught:
        decode_policy_text("workspace", "AGENTS.md", b"ok\nstill ok\nbad \xff here\n")
    assert caught.value.line == 3
    assert caught.value.error_code is ErrorCode.POLICY_INVALID_FILE


def test_crlf_and_bom_are_normalized_so_checkouts_agree() -> None:
    assert decode_policy_text("workspace", "A.md", b"\xef\xbb\xbfa\r\nb\rc\n") == "a\nb\nc\n"


def test_errors_become_envelopes_with_their_code() -> None:
    with pytest.raises(PolicyFileTooLargeError) as caught:
        decode_policy_text("workspace", "AGENTS.md", b"x" * (MAX_POLICY_FILE_BYTES + 5))
    envelope = caught.value.to_envelope("0" * 32)
    assert envelope.error_code is ErrorCode.POLICY_FILE_TOO_LARGE
    assert envelope.details["file"] == "AGENTS.md" and envelope.details["line"] == 1
    assert envelope.retryable is False
