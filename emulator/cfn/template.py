"""Reading a CloudFormation template: its text (YAML or JSON, short intrinsic tags).

`!Ref X`, `!Sub ...`, `!GetAtt A.B` and the other short forms are YAML tags that PyYAML's safe
loader refuses; CloudFormation means by each the long form (`{"Ref": "X"}`, `{"Fn::Sub": ...}`),
so that is what we construct, and the evaluator (evaluate.py) only ever sees long forms. The document
keeps where each node starts (the same map yamlpos keeps for definitions), so an error points at
the line of the property it is about.
"""

from __future__ import annotations

from typing import Any

import yaml

from emulator.definitions import yamlpos

# Short tag -> long form key. `!GetAtt` and `!Condition` are handled apart (see below).
_FUNCTIONS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{name: f"Fn::{name}" for name in (
        "Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
        "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Length", "ToJsonString",
        "Transform",
    )},
}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short intrinsic tags."""


def _construct(key: str):
    def construct(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            # `!GetAtt Res.Attr` is the string form of [Res, Attr]; the attribute itself may
            # hold dots (`!GetAtt Stack.Outputs.Url`), so only the first dot splits.
            if key == "Fn::GetAtt":
                value = value.split(".", 1)
            # `!GetAZs ''` and `!GetAZs` alone both mean the current region.
            elif key == "Fn::GetAZs" and value is None:
                value = ""
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag, _key in _FUNCTIONS.items():
    CfnLoader.add_constructor(f"!{_tag}", _construct(_key))


class TemplateSyntaxError(Exception):
    """The text is not YAML (or JSON); carries the parser's position."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message = message
        self.line = line
        self.column = column


def parse(text: str) -> yamlpos.PositionedDocument:
    """The template's data with long-form intrinsics, and where each node starts."""
    loader = CfnLoader(yamlpos._without_json_tabs(text))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise TemplateSyntaxError(message, line, column) from exc
    except yaml.YAMLError as exc:
        raise TemplateSyntaxError(str(exc), 1, 1) from exc
    finally:
        loader.dispose()
    document = yamlpos.PositionedDocument(data)
    if node is not None:
        # The same walk as definitions': a tagged node is a plain node to it, so paths stop
        # at the property that holds an intrinsic, which is the place an error should name.
        yamlpos._walk(node, (), document, set(), override=True)
    return document


def load(text: str) -> Any:
    """Only the data (for callers that need no positions)."""
    return parse(text).data


def is_template(data: Any) -> bool:
    """Whether loaded data is a CloudFormation template rather than a pipemu definition: it has
    `AWSTemplateFormatVersion`, or `Resources` whose members are typed resources."""
    if not isinstance(data, dict) or "pipeline" in data:
        return False
    if "AWSTemplateFormatVersion" in data:
        return True
    resources = data.get("Resources")
    return (
        isinstance(resources, dict)
        and bool(resources)
        and all(isinstance(r, dict) and isinstance(r.get("Type"), str) for r in resources.values())
    )
