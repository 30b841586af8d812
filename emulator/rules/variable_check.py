"""VariableCheck: compares a variable (already resolved by the engine, `#{ns.Var}` included)
with a value. Operators as AWS's rule reference: EQ, NE, CONTAINS, MATCHES (a regular
expression matching the whole value, as Java's String.matches does, which AWS's documentation
names for this operator)."""

from __future__ import annotations

import re

from . import Verdict, failed, passed

OPERATORS = ("EQ", "NE", "CONTAINS", "MATCHES")


def judge(configuration: dict[str, str]) -> Verdict:
    variable, value = configuration.get("Variable", ""), configuration.get("Value", "")
    operator = configuration.get("Operator", "")
    if operator == "EQ":
        ok = variable == value
    elif operator == "NE":
        ok = variable != value
    elif operator == "CONTAINS":
        ok = value in variable
    elif operator == "MATCHES":
        try:
            ok = re.fullmatch(value, variable) is not None
        except re.error as exc:
            return failed(f"Value {value!r} is not a regular expression: {exc}", "ConfigurationError")
    else:
        return failed(f"Operator {operator!r} is not one of {', '.join(OPERATORS)}", "ConfigurationError")
    verdict = f"{variable!r} {operator} {value!r}"
    return passed(f"{verdict}: true") if ok else failed(f"{verdict} is false")
