"""events/: patterns, rules, targets. CodePipeline's state-change events as EventBridge shapes
them (emit.py), EventBridge's pattern language (patterns.py), the default bus with its rules and
deliveries (bus.py) and one sender per target kind (targets.py)."""

from .bus import EventBus, Rule, Target, rules_from_folder
from .patterns import InvalidEventPattern, matches, parse

__all__ = ["EventBus", "InvalidEventPattern", "Rule", "Target", "matches", "parse", "rules_from_folder"]
