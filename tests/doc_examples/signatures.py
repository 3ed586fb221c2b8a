"""Documented signatures, checked against the code.

A block marked ``<!-- docs: signature -->`` holds calls written as signatures, such as
``AsyncQueue(name="default", *, url=None, ...)``: each names an ``aqueue`` attribute, and
its parameters (names, kinds, order, defaults) must be the real ones. With
``<!-- docs: signature Serializer -->`` the block holds ``def`` lines of the methods of
``aqueue.Serializer``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import tokenize
from typing import Any

from tests.doc_examples.blocks import Block, PageError

NO_DEFAULT = object()
KINDS = inspect.Parameter


def check_block(block: Block) -> int:
    """Check every signature of the block; returns how many there were."""
    owner = block.markers["signature"]
    if owner:
        found = _defs(block, owner)
    else:
        found = [(name, _parse_params(block, name, params)) for name, params in _calls(block)]
    if not found:
        raise PageError(f"{block.where}: a signature block without a signature")
    for name, documented in found:
        actual = _parameters(_resolve(block, name))
        if "." in name and actual and actual[0][0] == "self" and (
                not documented or documented[0][0] != "self"):
            actual = actual[1:]  # AsyncQueue.enqueue(fn, ...): the method, as called
        _compare(block, name, documented, actual)
    return len(found)


def _calls(block: Block) -> list[tuple[str, str]]:
    """(dotted name, the text between its parentheses) of each top-level call."""
    text = block.text
    offsets = [0]
    for line in text.split("\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    calls: list[tuple[str, str]] = []
    depth, name, current, start = 0, "", "", 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise PageError(f"{block.where}: cannot read the signature: {exc}") from None
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string == "(":
            if depth == 0:
                start = offsets[tok.end[0] - 1] + tok.end[1]
                current = name
            depth += 1
        elif tok.type == tokenize.OP and tok.string == ")":
            depth -= 1
            if depth == 0 and current:
                calls.append((current, text[start:offsets[tok.start[0] - 1] + tok.start[1]]))
        elif depth == 0:
            if tok.type == tokenize.NAME and not name.endswith("."):
                name = tok.string
            elif tok.type == tokenize.NAME or (tok.type == tokenize.OP and tok.string == "."):
                name += tok.string
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                name = ""
    return calls


def _parse_params(block: Block, name: str, params: str) -> list[tuple[str, Any, Any]]:
    try:
        tree = ast.parse(f"def _signature({params}\n): ...")
    except SyntaxError as exc:
        raise PageError(f"{block.where}: the signature of {name} is not valid: {exc}") from None
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return _documented(block, name, function.args)


def _defs(block: Block, owner: str) -> list[tuple[str, list[tuple[str, Any, Any]]]]:
    try:
        tree = ast.parse(block.text)
    except SyntaxError as exc:
        raise PageError(f"{block.where}: not valid Python: {exc}") from None
    return [(f"{owner}.{node.name}", _documented(block, node.name, node.args))
            for node in tree.body if isinstance(node, ast.FunctionDef)]


def _documented(block: Block, name: str, args: ast.arguments) -> list[tuple[str, Any, Any]]:
    positional: list[tuple[ast.arg, inspect._ParameterKind]] = [
        (a, KINDS.POSITIONAL_ONLY) for a in args.posonlyargs]
    positional += [(a, KINDS.POSITIONAL_OR_KEYWORD) for a in args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    found: list[tuple[str, inspect._ParameterKind, ast.expr | None]] = [
        (a.arg, kind, d) for (a, kind), d in zip(positional, defaults, strict=True)]
    if args.vararg:
        found.append((args.vararg.arg, KINDS.VAR_POSITIONAL, None))
    found += [(a.arg, KINDS.KEYWORD_ONLY, d)
              for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        found.append((args.kwarg.arg, KINDS.VAR_KEYWORD, None))
    result = []
    for param, kind, node in found:
        value: Any = NO_DEFAULT
        if node is not None:
            try:
                value = ast.literal_eval(node)
            except ValueError:
                raise PageError(f"{block.where}: {name}({param}=...): write the default as a "
                                "plain value") from None
        result.append((param, kind, value))
    return result


def _resolve(block: Block, name: str) -> Any:
    obj: Any = importlib.import_module("aqueue")
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PageError(f"{block.where}: aqueue has no {name}") from None
    return obj


def _parameters(obj: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, NO_DEFAULT if p.default is p.empty else p.default)
            for p in inspect.signature(obj).parameters.values()]


def _compare(block: Block, name: str, documented: list[tuple[str, Any, Any]],
             actual: list[tuple[str, Any, Any]]) -> None:
    def show(params: list[tuple[str, Any, Any]]) -> str:
        return ", ".join(f"{n}[{k.description}]" + ("" if d is NO_DEFAULT else f"={d!r}")
                         for n, k, d in params)

    same = len(documented) == len(actual) and all(
        dn == an and dk == ak and (dd is NO_DEFAULT) == (ad is NO_DEFAULT)
        and (dd is NO_DEFAULT or dd == ad)
        for (dn, dk, dd), (an, ak, ad) in zip(documented, actual, strict=False))
    if not same:
        raise PageError(f"{block.where}: the documented signature of {name} is not the real "
                        f"one.\n  documented: {show(documented)}\n  real:       {show(actual)}")
