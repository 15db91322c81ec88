"""The AI4OS access checker: pure logic, standard library only (CPython and Pyodide)."""

from access_checker.assessment import Assessment, evaluate
from access_checker.policy import Policy, PolicyError, default_policy, load_policy, parse_policy

__version__ = "1.0.0"
__all__ = ["Assessment", "Policy", "PolicyError", "default_policy", "evaluate", "load_policy", "parse_policy"]
