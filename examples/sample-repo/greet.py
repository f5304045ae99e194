"""Greet someone by name: ``python greet.py Ada`` prints ``Hello, Ada!``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Greet someone by name.")
    parser.add_argument("name", help="who to greet")
    args = parser.parse_args(argv)
    print(f"Hello, {args.name}!")  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
