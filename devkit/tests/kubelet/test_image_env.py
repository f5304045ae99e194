"""The environment baked into an image (``KubeletConfig.image_env``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cephalon_devkit.kubelet.config import image_environment

from .conftest import Api, MakeExecutor, eventually
from .helpers import NS, pod

TOOL = "images.example.test/acme/tool"

REPORT = "import json, os, sys\nprint(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))\n"


def test_image_environment_uses_the_image_command_lookup() -> None:
    mapping = {TOOL: {"A": "repo"}, f"{TOOL}:debug": {"A": "exact"}}
    assert image_environment(f"{TOOL}:1.2", mapping) == {"A": "repo"}
    assert image_environment(f"{TOOL}@sha256:ab", mapping) == {"A": "repo"}
    assert image_environment(f"{TOOL}:debug", mapping) == {"A": "exact"}
    assert image_environment("images.example.test/acme/other:1.2", mapping) == {}


async def test_container_sees_its_image_env_and_its_own_env_wins(
    api: Api, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    image_home = str(tmp_path / "image-home")
    await make_executor(
        image_env={
            TOOL: {
                "TOOL_MODE": "baked",
                "TOOL_LEVEL": "1",
                # A path under the container's mount: a host value, so not translated.
                "TOOL_DATA": "/opt/tool/data",
                # After the executor's defaults, so an image may move HOME.
                "HOME": image_home,
            }
        }
    )
    names = ["TOOL_MODE", "TOOL_LEVEL", "TOOL_DATA", "HOME", "OWN_DATA"]
    mount = {"name": "tool", "mountPath": "/opt/tool"}
    await api.create(
        NS,
        "pods",
        pod(
            "baked",
            [
                {
                    "name": "tool",
                    "image": f"{TOOL}:1.2",
                    "command": [sys.executable, "-c", REPORT, *names],
                    "env": [
                        {"name": "TOOL_LEVEL", "value": "2"},
                        {"name": "OWN_DATA", "value": "/opt/tool/data"},
                    ],
                    "volumeMounts": [mount],
                },
                {
                    "name": "plain",
                    "image": "images.example.test/acme/other:1.2",
                    "command": [sys.executable, "-c", REPORT, "TOOL_MODE"],
                },
            ],
            volumes=[{"name": "tool", "emptyDir": {}}],
            restartPolicy="Never",
        ),
    )

    async def succeeded() -> dict[str, Any] | None:
        obj = await api.pod(NS, "baked")
        return obj if obj and obj["status"].get("phase") == "Succeeded" else None

    await eventually(succeeded, what="pod Succeeded")
    logs = tmp_path / "logs" / NS / "baked"
    seen = json.loads((logs / "tool.log").read_text())
    own_data = seen.pop("OWN_DATA")
    assert seen == {
        "TOOL_MODE": "baked",
        "TOOL_LEVEL": "2",
        "TOOL_DATA": "/opt/tool/data",
        "HOME": image_home,
    }
    # The container's own value under the mount is translated, the image's is not.
    assert own_data.endswith("/volumes/tool/data") and own_data != "/opt/tool/data"
    assert json.loads((logs / "plain.log").read_text()) == {"TOOL_MODE": None}
