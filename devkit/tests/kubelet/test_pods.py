"""Small pure helpers of the pod worker."""

from __future__ import annotations

from cephalon_devkit.kubelet.pods import container_argv, grace_period, is_older


def test_grace_period_prefers_the_deletions() -> None:
    assert grace_period({"spec": {}}) == 30
    assert grace_period({"spec": {"terminationGracePeriodSeconds": 5}}) == 5
    assert (
        grace_period(
            {
                "metadata": {"deletionGracePeriodSeconds": 0},
                "spec": {"terminationGracePeriodSeconds": 5},
            }
        )
        == 0
    )


def test_is_older_compares_integer_resource_versions() -> None:
    assert is_older({"metadata": {"resourceVersion": "9"}}, {"metadata": {"resourceVersion": "10"}})
    assert not is_older(
        {"metadata": {"resourceVersion": "10"}}, {"metadata": {"resourceVersion": "9"}}
    )
    assert not is_older(
        {"metadata": {"resourceVersion": "a"}}, {"metadata": {"resourceVersion": "9"}}
    )
    assert not is_older({"metadata": {}}, {"metadata": {"resourceVersion": "9"}})


def test_container_argv_command_or_image_prefix() -> None:
    images = {"acme/runtime": ("python", "-m", "runtime")}
    assert container_argv({"command": ["sh", "-c"], "args": ["x"]}, images) == ["sh", "-c", "x"]
    assert container_argv({"image": "acme/runtime:2", "args": ["--serve"]}, images) == [
        "python",
        "-m",
        "runtime",
        "--serve",
    ]
    assert container_argv({"image": "other"}, images) == []
