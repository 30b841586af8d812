"""Test helper: assert a server response fits CodePipeline's output shape in botocore's model."""

from __future__ import annotations

from emulator.api.shapes import validate_output


def assert_output_valid(operation: str, body: dict) -> None:
    """Raise AssertionError listing every way ``body`` fails ``operation``'s output shape."""
    violations = validate_output(operation, body)
    if violations:
        lines = "\n".join(f"  {v.path or '<body>'}: {v.message}" for v in violations)
        raise AssertionError(
            f"{operation} output violates the CodePipeline model "
            f"({len(violations)} violation(s)):\n{lines}"
        )
