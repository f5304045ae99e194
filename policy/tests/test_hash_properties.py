"""Property tests: the snapshot hash is a function of content, and of nothing else.

Same files → same hash, whatever order they are inserted, created on disk or listed
in, wherever the root is, with LF or CRLF; any change to a file that contributes
changes the hash; files that do not contribute (an AGENTS.md off the walk) and the
values of ${VAR} do not.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cephalon_policy import PolicyFiles, PolicyInputs, PolicySnapshot, build_snapshot, load_snapshot
from cephalon_policy.skills import SKILL_ROOTS
from cephalon_policy.snapshot import content_hash

CWD = "a/b"
OFF_WALK_DIRS = ("c", "a/b/deeper")

words = st.text(alphabet="abcdefghij klmnop-_.", min_size=1, max_size=30).filter(str.strip)
markdown = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=80
).filter(str.strip)


@st.composite
def policy_trees(draw: st.DrawFn) -> dict[str, str]:
    """A workspace: instruction files on and off the walk, skills, RULES.md, .mcp.json."""
    files: dict[str, str] = {}
    for directory in ("", "a", "a/b", *OFF_WALK_DIRS):
        for name in draw(
            st.lists(st.sampled_from(["AGENTS.override.md", "AGENTS.md", "CLAUDE.md"]), unique=True)
        ):
            files[f"{directory}/{name}".lstrip("/")] = draw(markdown)
    if draw(st.booleans()):
        files["RULES.md"] = draw(markdown)
    for name in draw(st.lists(st.sampled_from(["alpha", "beta-two", "gamma3"]), unique=True)):
        root = draw(st.sampled_from(SKILL_ROOTS))
        description = json.dumps(draw(words))
        files[f"{root}/{name}/SKILL.md"] = (
            f"---\nname: {name}\ndescription: {description}\n---\n{draw(markdown)}\n"
        )
    servers = draw(st.dictionaries(st.sampled_from(["s1", "s2", "s3"]), words, max_size=3))
    if servers:
        files[".mcp.json"] = json.dumps(
            {
                "mcpServers": {
                    name: {"url": f"http://h/{path}", "headers": {"T": "${TOKEN}"}}
                    for name, path in servers.items()
                }
            }
        )
    return files


def build(entries: list[tuple[str, str]], token: str = "t") -> PolicySnapshot:
    workspace = PolicyFiles("workspace", dict(entries))
    return build_snapshot(PolicyInputs(workspace=workspace, cwd=CWD, variables={"TOKEN": token}))


@given(tree=policy_trees(), data=st.data())
def test_insertion_order_does_not_matter(tree: dict[str, str], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(list(tree.items())))
    assert build(list(tree.items())).hash == build(shuffled).hash


@settings(max_examples=40, deadline=None)
@given(tree=policy_trees(), data=st.data())
def test_disk_order_location_and_line_endings_do_not_matter(
    tree: dict[str, str], data: st.DataObject
) -> None:
    first = list(tree.items())
    second = data.draw(st.permutations(first))
    hashes = []
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        for root, order, newline in ((Path(one), first, "\n"), (Path(two) / "x/y", second, "\r\n")):
            for directory in data.draw(st.permutations(["a/b", "c", "skills", ".claude/skills"])):
                (root / directory).mkdir(parents=True, exist_ok=True)  # different creation order
            for relative, content in order:
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content.replace("\n", newline).encode("utf-8"))
            hashes.append(load_snapshot(root, cwd=root / CWD, variables={"TOKEN": newline}).hash)
    assert hashes[0] == hashes[1] == build(first).hash


def mutate(path: str, content: str) -> str:
    if path == ".mcp.json":
        document = json.loads(content)
        first = sorted(document["mcpServers"])[0]
        document["mcpServers"][first]["url"] += "x"
        return json.dumps(document)
    return content + "\nchanged"


@given(tree=policy_trees(), data=st.data())
def test_changing_any_contributing_file_changes_the_hash(
    tree: dict[str, str], data: st.DataObject
) -> None:
    before = build(list(tree.items()))
    contributing = [s.path for s in before.sources]
    if not contributing:
        return
    path = data.draw(st.sampled_from(contributing))
    after = build(list({**tree, path: mutate(path, tree[path])}.items()))
    assert after.hash != before.hash


@given(tree=policy_trees(), extra=markdown)
def test_files_off_the_walk_do_not_change_the_hash(tree: dict[str, str], extra: str) -> None:
    before = build(list(tree.items()))
    changed = dict(tree)
    for directory in OFF_WALK_DIRS:
        changed[f"{directory}/AGENTS.override.md"] = extra
    assert build(list(changed.items())).hash == before.hash


@given(tree=policy_trees(), token=words)
def test_variable_values_do_not_change_the_hash(tree: dict[str, str], token: str) -> None:
    assert build(list(tree.items()), token=token).hash == build(list(tree.items())).hash


@given(tree=policy_trees())
def test_hash_is_the_digest_of_the_canonical_content(tree: dict[str, str]) -> None:
    snapshot = build(list(tree.items()))
    again = PolicySnapshot.model_validate_json(snapshot.model_dump_json())
    assert again == snapshot and again.hash == snapshot.hash
    assert snapshot.hash == content_hash(snapshot.canonical())
    assert snapshot.hash.startswith("sha256:") and len(snapshot.hash) == 71
