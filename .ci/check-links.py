#!/usr/bin/env python3
"""Every relative link in the project's Markdown points at a file that
exists, and every #anchor at a heading of that file (GitHub's slugs)."""
import pathlib, re, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
files = subprocess.run(["git", "ls-files", "*.md"], cwd=root, capture_output=True,
                       text=True, check=True).stdout.split()

def slug(heading):
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")

def anchors(path):
    out, fence = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            out.add(slug(line.lstrip("#")))
    return out

bad = []
for f in files:
    p = root / f
    text = re.sub(r"```.*?```", "", p.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (p.parent / path).resolve() if path else p
        if not dest.exists():
            bad.append(f"{f}: `{target}` does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{f}: `{target}` names no heading of {dest.name}")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
