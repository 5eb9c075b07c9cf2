#!/usr/bin/env python3
"""Well-formedness and safety checks of the HTML report and its SVG charts.

  check_xml.py unit   --tool HTML_TOOL --workdir DIR
      runs `html_tool unit DIR` (C checks + tricky SVGs), parses every SVG as XML
  check_xml.py render --tool HTML_TOOL --workdir DIR --fixture REPORT.json
      renders the committed fixture and generated stress reports; parses each
      report.html (the page is polyglot XHTML) and every chart as XML and checks
      escaping, the CSP script hash, charts and n/a handling.

Standard library only (xml.etree, hashlib). Exit 0 = pass.
"""
import argparse
import base64
import glob
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SVG_NS = "{http://www.w3.org/2000/svg}"
EVIL = "<img src=x onerror=alert(1)>"
NUMERIC_ATTRS = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def local(tag):
    return tag.split("}", 1)[-1]


def check_tree(root, where):
    """No active content anywhere; numeric attributes are finite numbers."""
    for el in root.iter():
        name = local(el.tag).lower()
        check(name not in ("img", "iframe", "object", "embed", "foreignobject", "image",
                           "link", "base", "form", "audio", "video"),
              "%s: unexpected <%s> element" % (where, name))
        for k, v in el.attrib.items():
            lk = local(k).lower()
            check(not lk.startswith("on"), "%s: event handler attribute %s" % (where, k))
            check(lk not in ("src", "srcset", "xlink:href", "action"),
                  "%s: resource attribute %s=%r" % (where, k, v))
            if lk == "href":
                check(v.startswith("#"), "%s: non-local href %r" % (where, v))
            if lk in NUMERIC_ATTRS and name not in ("meta",):
                try:
                    f = float(v)
                    check(math.isfinite(f), "%s: %s=%r not finite" % (where, k, v))
                except ValueError:
                    check(False, "%s: %s=%r not a number" % (where, k, v))
            if lk == "style":
                check("url(" not in v, "%s: url() in style" % where)


def parse_svg(path):
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        check(False, "%s: not well-formed XML: %s" % (path, e))
        return None
    root = tree.getroot()
    check(root.tag == SVG_NS + "svg", "%s: root is %s, not svg" % (path, root.tag))
    check(root.get("viewBox") is not None, "%s: no viewBox" % path)
    check(root.find(SVG_NS + "title") is not None, "%s: no <title>" % path)
    check_tree(root, path)
    return root


def all_text(root):
    return "".join(root.itertext())


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.stdout:
        print(p.stdout, end="")
    if p.stderr:
        print(p.stderr, end="", file=sys.stderr)
    return p.returncode


def mode_unit(args):
    if os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    check(run([args.tool, "unit", args.workdir]) == 0, "html_tool unit failed")
    svgs = sorted(glob.glob(os.path.join(args.workdir, "unit-*.svg")))
    check(len(svgs) >= 10, "expected >= 10 unit SVGs, got %d" % len(svgs))
    for p in svgs:
        root = parse_svg(p)
        if root is None:
            continue
        text = all_text(root)
        if os.path.basename(p) in ("unit-bars-grouped.svg", "unit-heat.svg"):
            # the hostile label is text, exactly as given
            check(EVIL in text, "%s: hostile label is not present as text" % p)
            check("Shirt \"& 'tie'\"" in text or "quote \" & amp ' \u00e9t\u00e9" in text,
                  "%s: quotes/ampersand label not round-tripped" % p)
        if os.path.basename(p) == "unit-bars-grouped.svg":
            check("\ufffd invalid utf8 \ufffd" in text, "%s: invalid UTF-8 not replaced" % p)
            check("n/a" in text, "%s: no n/a" % p)


def script_hash(html_text):
    m = re.search(r"<script>(.*?)</script>", html_text, re.S)
    if not m:
        return None, None
    digest = hashlib.sha256(m.group(1).encode("utf-8")).digest()
    return m.group(1), "sha256-" + base64.b64encode(digest).decode()


def check_page(outdir, kind, expect):
    page = os.path.join(outdir, "report.html")
    check(os.path.isfile(page), "%s: no report.html" % kind)
    if not os.path.isfile(page):
        return
    with open(page, encoding="utf-8") as f:
        html = f.read()
    check(html.startswith("<!DOCTYPE html>"), "%s: no doctype" % kind)
    check('<meta name="viewport"' in html, "%s: no viewport meta" % kind)
    try:
        root = ET.fromstring(html)
    except ET.ParseError as e:
        check(False, "%s: report.html is not well-formed XML: %s" % (kind, e))
        return
    check_tree(root, kind + " report.html")
    # the only script is the sorting script, allowed by its hash
    scripts = [el for el in root.iter() if local(el.tag) == "script"]
    check(len(scripts) == 1, "%s: %d scripts" % (kind, len(scripts)))
    body, h = script_hash(html)
    csp = [el for el in root.iter() if local(el.tag) == "meta"
           and el.get("http-equiv") == "Content-Security-Policy"]
    check(len(csp) == 1, "%s: no CSP meta" % kind)
    if csp and h:
        content = csp[0].get("content")
        check("default-src 'none'" in content, "%s: CSP does not default to none" % kind)
        check("'%s'" % h in content,
              "%s: CSP script hash is not the script's (%s); update "
              "ev_report_html_script_hash in lib/report/html.c" % (kind, h))
    # svgs in the page == chart files, each file well-formed and identical
    inline = [el for el in root.iter() if el.tag == SVG_NS + "svg"]
    files = sorted(glob.glob(os.path.join(outdir, "charts", "*.svg")))
    check(len(inline) == len(files), "%s: %d inline SVGs but %d chart files"
          % (kind, len(inline), len(files)))
    for p in files:
        check(re.fullmatch(r"[a-z0-9.-]+\.svg", os.path.basename(p)) is not None,
              "%s: odd chart file name %s" % (kind, p))
        with open(p, encoding="utf-8") as f:
            check(f.read().startswith("<?xml"), "%s: %s has no XML declaration" % (kind, p))
        parse_svg(p)
    check(len(inline) >= expect.get("min_svgs", 0),
          "%s: %d SVGs, expected >= %d" % (kind, len(inline), expect.get("min_svgs", 0)))
    text = all_text(root)
    for s in expect.get("texts", []):
        check(s in text, "%s: text %r not in the page" % (kind, s))
    for s in expect.get("not_in_source", []):
        check(s not in html, "%s: %r appears raw in the source" % (kind, s))
    if "tags_rand" in expect:
        n = sum(1 for el in root.iter() if local(el.tag) == "span"
                and "rand" in (el.get("class") or "").split() and el.text == "random-init")
        # one tag per model row in each of: main table, more metrics, efficiency, models
        check(n >= expect["tags_rand"], "%s: %d random-init tags, expected >= %d"
              % (kind, n, expect["tags_rand"]))
    return root


def mode_render(args):
    if os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    cases = [("fixture", args.fixture)]
    for kind in ("many", "one", "nulls", "empty"):
        p = os.path.join(args.workdir, kind + ".json")
        check(run([sys.executable, os.path.join(HERE, "make_fixture.py"), kind, p]) == 0,
              "make_fixture %s" % kind)
        cases.append((kind, p))
    expects = {
        "fixture": {"min_svgs": 7,
                    "texts": [EVIL, "Shirt \"& 'tie'\"", "Sandale \u2013 \u00e9t\u00e9 \u2713",
                              "broken & <b>bad</b>",
                              "corrupt.onnx: protobuf parse failed at byte 17 (<truncated> & "
                              "\"odd\")", "n/a", "Pareto", "random-feature baseline",
                              "Failed models", "Intel(R) Xeon(R) <AVX-512>",
                              "fmnist_cnn_wide", "embeval run --out out/<evil dir>",
                              "imgs/" + EVIL + ".png: decode failed: <not an image>",
                              "class name " + EVIL + " contains markup",
                              "card broken.json: unknown key \"zoom\" ignored",
                              "status partial", "avx2, fma, avx512f, avx512_bf16",
                              "weighted 20-NN"],
                    "not_in_source": [EVIL, "<b>bad</b>", "<truncated>", "<AVX-512>",
                                      "<evil dir>", "<not an image>"],
                    "tags_rand": 6 * 4},
        "many": {"min_svgs": 2 * 5 + 2, "texts": [EVIL, "Mean rank across datasets"],
                 "not_in_source": [EVIL]},
        "one": {"min_svgs": 7, "texts": ["solo", "n/a"]},
        "nulls": {"min_svgs": 2, "texts": ["n/a"]},
        "empty": {"min_svgs": 2, "texts": ["This report has no models."]},
    }
    for kind, path in cases:
        out = os.path.join(args.workdir, kind)
        os.makedirs(out)
        rc = run([args.tool, "render", path, out])
        check(rc == 0, "%s: render exit %d" % (kind, rc))
        if rc == 0:
            check_page(out, kind, expects[kind])
    mode_mutants(args)
    # "many": both datasets get their own chart files (same slug, made unique)
    charts = os.listdir(os.path.join(args.workdir, "many", "charts"))
    check(len([c for c in charts if c.startswith("quality-big-a")]) == 2,
          "many: per-dataset chart names collide: %s" % sorted(charts))


MUTANT_VALUES = [None, "", "<x onload=y>", -1, 0, 1e308, -1e308, 5e-324, 3.5, [], {}, [None],
                 {"value": None}, True, "\u00ff\u2028", 2 ** 53]


def json_paths(o, path=()):
    if path:
        yield path
    if isinstance(o, dict):
        for k, v in o.items():
            yield from json_paths(v, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from json_paths(v, path + (i,))


def mode_mutants(args, count=40):
    """Seeded random type/value replacements in the fixture: every variant
    renders (or is refused with a message) and stays well-formed."""
    import json
    import random
    with open(args.fixture, encoding="utf-8") as f:
        doc = json.load(f)
    rng = random.Random(7)
    work = os.path.join(args.workdir, "mutants")
    os.makedirs(work)
    for it in range(count):
        d = json.loads(json.dumps(doc))
        for _ in range(rng.randint(1, 30)):
            path = rng.choice(list(json_paths(d)))
            o = d
            for p in path[:-1]:
                o = o[p]
            o[path[-1]] = rng.choice(MUTANT_VALUES)
        src = os.path.join(work, "m%02d.json" % it)
        out = os.path.join(work, "m%02d" % it)
        os.makedirs(out)
        with open(src, "w", encoding="utf-8") as f:
            json.dump(d, f)
        p = subprocess.run([args.tool, "render", src, out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            check("schema" in p.stderr and p.returncode == 1,
                  "mutant %s: exit %d: %s" % (src, p.returncode, p.stderr[-300:]))
            continue
        try:
            root = ET.parse(os.path.join(out, "report.html")).getroot()
            check_tree(root, src)
        except ET.ParseError as e:
            check(False, "mutant %s: report.html not well-formed: %s" % (src, e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["unit", "render"])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--fixture")
    args = ap.parse_args()
    if args.mode == "unit":
        mode_unit(args)
    else:
        mode_render(args)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
