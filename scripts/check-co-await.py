#!/usr/bin/env python3
"""Fails (exit 1) on a `co_await` nested inside a call argument or a braced
initialiser, e.g. `f(co_await g())`, `v.push_back(co_await next())`,
`Reply{co_await read()}`, and on a string built in an awaited
full-expression, e.g. `co_await report("cannot read " + path)`, or a braced
or lambda temporary passed in one, e.g. `co_await start({id, ttl})`.

Why: GCC 12 miscompiles such coroutines (PR 99576 and relatives): the
temporaries of the enclosing full-expression can be destroyed twice or not at
all across the suspension. The safe form awaits into a local first:

    auto value = co_await g();
    f(std::move(value));

The scan is token-based and conservative: comments and literals are blanked,
then every `co_await` is checked against the brackets that enclose it, up to
the nearest block `{` (a lambda body inside a call is its own coroutine and
is fine). A `(` counts as a call when it follows a name that is not a keyword,
or `)`, `]` or `>` (`f<T>(...)`); a `{` counts as an initialiser when it
follows a name that is not a keyword and not a declaration (`struct X {`,
`-> T {`).

Usage: check-co-await.py [DIR_OR_FILE ...]   (default: src/ beside this script)
"""
import re
import sys
from pathlib import Path

NOT_CALLS = {
    "if", "while", "for", "switch", "return", "co_return", "co_await", "co_yield", "sizeof", "alignof",
    "decltype", "noexcept", "catch", "static_assert", "alignas", "requires", "throw", "and", "or", "not",
    "delete", "new", "case", "else", "do", "try", "const", "constexpr", "override", "final", "mutable",
    "volatile", "operator",
}
DECLARATION_INTRODUCERS = {"class", "struct", "union", "enum", "namespace"}
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|->|::|[^\sA-Za-z0-9_]|[0-9][A-Za-z0-9_.']*")


def blank_comments_and_literals(text):
    """Replaces comments, string and character literals by spaces, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):  # 1'000 is a digit separator
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokens_with_lines(text):
    line = 1
    pos = 0
    for m in TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        yield m.group(0), line


def builds_a_string(operand):
    """`"text" + x` or `x + "text"` among a co_await's operand tokens: a std::string temporary."""
    return any(token == "+" and ('"' in operand[i - 1:i] or '"' in operand[i + 1:i + 2])
               for i, token in enumerate(operand))


def captures_by_value(operand, start):
    """Whether the lambda capture list opening at operand[start] copies anything (`[id]`, `[=]`)."""
    captures = []
    for token in operand[start + 1:]:
        if token == "]":
            break
        captures.append(token)
    names = [t for t in captures if t not in ("&", ",", "this")]
    return any(t == "=" for t in captures) or any(
        re.match(r"[A-Za-z_]", t) and (i == 0 or captures[i - 1] != "&") for i, t in enumerate(captures) if t in names)


def passes_a_temporary(operand):
    """`f({a, b})` or `f([id] { ... })` among a co_await's operand tokens: a braced argument,
    or a lambda that copies what it captures, both temporaries with destructors."""
    for i, token in enumerate(operand[:-1]):
        if token not in ("(", ","):
            continue
        if operand[i + 1] == "{" or operand[i + 1] == "[" and captures_by_value(operand, i + 1):
            return True
    return False


def violations(path):
    text = blank_comments_and_literals(Path(path).read_text(encoding="utf-8", errors="replace"))
    found = []
    stack = []  # (bracket, kind) with kind in {"call", "init", "group", "block"}
    previous = [None, None]  # the two tokens before the current one
    operand = None  # (depth, line, tokens) of the co_await being read, to its full-expression's end
    for token, line in tokens_with_lines(text):
        before, last = previous
        if operand is not None:
            depth, at, tokens = operand
            if token == ";" and len(stack) <= depth or token in (")", "]", "}") and len(stack) <= depth:
                if builds_a_string(tokens):
                    found.append((at, "string concatenation in a co_await's full-expression"))
                if passes_a_temporary(tokens):
                    found.append((at, "braced or lambda temporary in a co_await's full-expression"))
                operand = None
            else:
                tokens.append(token)
        if token == "(":
            is_name = last is not None and re.match(r"[A-Za-z_]", last) and last not in NOT_CALLS
            stack.append("call" if is_name or last in (")", "]", ">") else "group")
        elif token == "[":
            stack.append("group")
        elif token == "{":
            is_name = last is not None and re.match(r"[A-Za-z_]", last) and last not in NOT_CALLS
            declares = before in DECLARATION_INTRODUCERS or before == "->" or before == ":" or before == ","
            stack.append("init" if is_name and not declares and last not in DECLARATION_INTRODUCERS else "block")
        elif token in (")", "]", "}"):
            if stack:
                stack.pop()
        elif token == "co_await":
            if operand is None:
                operand = (len(stack), line, [])
            for kind in reversed(stack):
                if kind == "block":
                    break
                if kind in ("call", "init"):
                    found.append((line, "co_await inside a call argument" if kind == "call"
                                  else "co_await inside a braced initialiser"))
                    break
        previous = [last, token]
    return found


def main(argv):
    root = Path(__file__).resolve().parent.parent
    targets = [Path(a) for a in argv[1:]] or [root / "src"]
    files = []
    for target in targets:
        files += sorted(target.rglob("*")) if target.is_dir() else [target]
    bad = 0
    for path in files:
        if path.suffix not in (".cpp", ".hpp", ".h", ".cc") or not path.is_file():
            continue
        for line, what in violations(path):
            print(f"{path}:{line}: {what}: await into a local first (GCC 12, PR 99576)")
            bad += 1
    if bad:
        print(f"check-co-await: {bad} violation(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
