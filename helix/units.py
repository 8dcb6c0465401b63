"""Unit constants and a whitelisting evaluator for the artifact's `12.5 * mbps` expressions.

The artifact's ini files hold Python expressions over unit names. Calling eval() on files from disk
would execute arbitrary code, so we parse them with `ast` and allow only numbers, the unit names and
+ - * / operators. "bps" names are bytes per second (docs/design/placement.md section 1).
"""

from __future__ import annotations

import ast
import operator

UNITS: dict[str, float] = {
    "kbps": 1e3,
    "mbps": 1e6,
    "gbps": 1e9,
    "Byte": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "Sec": 1.0,
    "MilliSec": 1e-3,
}

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def eval_expr(text: str) -> float:
    """Evaluate a unit expression such as ``"12.5 * mbps"``; raise ValueError on anything else."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id in UNITS:
            return UNITS[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise ValueError(f"not a unit expression: {text!r}")

    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a unit expression: {text!r}") from exc
    return ev(tree)
