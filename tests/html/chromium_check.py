#!/usr/bin/env python3
"""The HTML report in a real browser (headless Chromium).

  chromium_check.py --tool HTML_TOOL --workdir DIR --fixture REPORT.json [--chromium PATH]

1. renders the fixture with `html_tool render` (ev_report_write_html);
2. screenshots at phone (390 px) and laptop (1366 px) widths: PNGs of the right size
   that are not blank (many colours, a fair share of non-background pixels); they stay
   in DIR for people to look at;
3. --dump-dom of the page: the charts are there (inline <svg> count = chart files),
   the sorting script ran (it marks sortable tables with class "js"), there is no <img>
   element and no on* attribute anywhere, and the hostile class name
   `<img src=x onerror=alert(1)>` is present as text;
4. a copy of the page with a test script (allowed by its own CSP hash) clicks a header
   twice and reports the row orders, and whether the page overflows a 390 px viewport
   horizontally;
5. every run is logged with --enable-logging=stderr --v=0: any CONSOLE line (uncaught
   exception, CSP violation, console.* call) fails the test. A canary page with a
   deliberate error checks that such lines are really detected.

Exit 77 (CTest "skipped") only when no Chromium binary exists.
"""
import argparse
import base64
import hashlib
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile

EVIL = "<img src=x onerror=alert(1)>"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--no-first-run", "--mute-audio"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def find_chromium(explicit):
    for c in ([explicit] if explicit else []) + ["chromium", "chromium-browser",
                                                  "google-chrome"]:
        p = shutil.which(c) if c else None
        if p:
            return p
    return None


def run_chromium(chromium, args, url, workdir, timeout=90):
    """Run one headless Chromium with a fresh profile; returns (rc, stdout, stderr)."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)
    cmd = [chromium] + FLAGS + ["--user-data-dir=" + profile] + args + [url]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        rc, out, err = p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, out, err = -1, (e.stdout or b"").decode("utf-8", "replace"), \
            (e.stderr or b"").decode("utf-8", "replace") + "\n(timeout)"
    shutil.rmtree(profile, ignore_errors=True)
    return rc, out, err


def console_lines(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]


def short(lines):
    """At most 3 console lines of at most 300 characters, for messages."""
    return "\n  ".join([""] + [l[:300] for l in lines[:3]] +
                       (["... %d more" % (len(lines) - 3)] if len(lines) > 3 else []))


class Dom(html.parser.HTMLParser):
    """Collects elements, attributes and text of a serialised DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []          # (tag, attrs dict)
        self.text = []
        self.body_attrs = {}

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.tags.append((tag, d))
        if tag == "body":
            self.body_attrs = d

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse_dom(s):
    d = Dom()
    d.feed(s)
    d.close()
    return d


def png_check(path, width, height, label):
    try:
        from PIL import Image
    except ImportError:
        # Debian's python3-pil is installed by scripts/install-deps.sh; without it,
        # at least check the PNG header and size fields
        with open(path, "rb") as f:
            head = f.read(32)
        check(head[:8] == b"\x89PNG\r\n\x1a\n", "%s: not a PNG" % label)
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        check((w, h) == (width, height), "%s: PNG is %dx%d" % (label, w, h))
        return
    im = Image.open(path).convert("RGB")
    check(im.size == (width, height), "%s: screenshot is %s, expected %dx%d"
          % (label, im.size, width, height))
    small = im.resize((max(1, im.size[0] // 2), max(1, im.size[1] // 2)))
    colours = small.getcolors(maxcolors=1 << 20)
    ncol = len(colours) if colours else 1 << 20
    px = list(small.getdata())
    bg = max(colours, key=lambda c: c[0])[1] if colours else px[0]
    nonbg = sum(1 for p in px if max(abs(p[i] - bg[i]) for i in range(3)) > 24)
    frac = nonbg / float(len(px))
    print("%s: %dx%d, %d colours, %.1f%% non-background" % (label, im.size[0], im.size[1],
                                                           ncol, 100 * frac))
    check(ncol >= 50, "%s: only %d colours: blank or broken page" % (label, ncol))
    check(frac >= 0.05, "%s: only %.1f%% non-background pixels" % (label, 100 * frac))


SORT_TEST = r"""
(function () {
  var t = document.querySelector('table.sortable');
  var th = t.tHead.rows[0].cells[1];
  function order() {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
      return r.cells[1].getAttribute('data-v');
    }).join(',');
  }
  th.click();
  var first = order() + '|' + th.getAttribute('aria-sort');
  th.click();
  var second = order() + '|' + th.getAttribute('aria-sort');
  document.body.setAttribute('data-sort1', first);
  document.body.setAttribute('data-sort2', second);
  document.body.setAttribute('data-overflow',
    String(document.documentElement.scrollWidth - window.innerWidth));
})();
"""


def make_sort_page(src, dst):
    with open(src, encoding="utf-8") as f:
        page = f.read()
    h = "sha256-" + base64.b64encode(hashlib.sha256(SORT_TEST.encode()).digest()).decode()
    page, n = re.subn(r"(script-src [^;\"]*)", r"\1 '%s'" % h, page, count=1)
    check(n == 1, "could not add the test script to the CSP")
    page = page.replace("</body>", "<script>%s</script>\n</body>" % SORT_TEST, 1)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(page)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--chromium")
    args = ap.parse_args()
    chromium = find_chromium(args.chromium)
    if not chromium:
        print("SKIP: no chromium binary (Debian package 'chromium', installed by "
              "scripts/install-deps.sh)")
        return 77
    if os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    out = os.path.join(args.workdir, "report")
    os.makedirs(out)
    rc = subprocess.run([args.tool, "render", args.fixture, out]).returncode
    if not check(rc == 0, "html_tool render failed (%d)" % rc):
        return 1
    page = os.path.join(out, "report.html")
    url = "file://" + os.path.abspath(page)
    n_charts = len([f for f in os.listdir(os.path.join(out, "charts")) if f.endswith(".svg")])

    # 0. the console check must be able to fail: a canary page with errors
    canary = os.path.join(args.workdir, "canary.html")
    with open(canary, "w") as f:
        f.write("<!DOCTYPE html><html><body><p>canary</p><script>"
                "console.error('canary-error'); undefinedFunctionCall();</script>"
                "</body></html>")
    rc, dom, err = run_chromium(chromium, ["--dump-dom"], "file://" + canary, args.workdir)
    lines = console_lines(err)
    check(rc == 0 and "canary" in dom, "canary page did not load (rc %d)" % rc)
    check(any("canary-error" in l for l in lines) and any("Uncaught" in l for l in lines),
          "console errors of the canary page were not detected in Chromium's log: the "
          "console check below would be blind. stderr:\n" + err[-2000:])

    # 1. screenshots at phone and laptop widths
    for w, h in ((390, 2400), (1366, 2400)):
        png = os.path.join(args.workdir, "report-%d.png" % w)
        rc, _, err = run_chromium(chromium, ["--window-size=%d,%d" % (w, h),
                                             "--screenshot=" + png], url, args.workdir)
        check(rc == 0 and os.path.isfile(png), "screenshot at %d px failed (rc %d): %s"
              % (w, rc, err[-1500:]))
        check(not console_lines(err), "console messages at %d px: %s" % (w, short(console_lines(err))))
        if os.path.isfile(png):
            png_check(png, w, h, "screenshot %d px" % w)

    # 2. the DOM after load
    rc, dom_text, err = run_chromium(chromium, ["--window-size=1366,900", "--dump-dom"], url,
                                     args.workdir)
    check(rc == 0 and "</html>" in dom_text, "--dump-dom failed (rc %d): %s" % (rc, err[-1500:]))
    check(not console_lines(err), "console messages: %s" % short(console_lines(err)))
    with open(os.path.join(args.workdir, "dom.html"), "w", encoding="utf-8") as f:
        f.write(dom_text)
    dom = parse_dom(dom_text)
    tags = [t for t, _ in dom.tags]
    n_svg = tags.count("svg")
    print("DOM: %d elements, %d svg (%d chart files), %d tables" %
          (len(tags), n_svg, n_charts, tags.count("table")))
    check(n_svg == n_charts and n_svg >= 7, "%d inline SVGs, %d chart files" % (n_svg, n_charts))
    check("img" not in tags, "an <img> element exists in the DOM")
    for t, a in dom.tags:
        for k in a:
            check(not k.lower().startswith("on"), "<%s %s=...> event handler in the DOM" % (t, k))
        check(t != "script" or "src" not in a, "external script in the DOM")
        check(t not in ("link", "iframe", "object", "embed"), "<%s> in the DOM" % t)
    text = "".join(dom.text)
    check(EVIL in text, "the hostile class name is not in the page text")
    sortable = [a for t, a in dom.tags if t == "table" and "sortable" in a.get("class", "")]
    check(sortable and all("js" in a.get("class", "").split() for a in sortable),
          "the sorting script did not run (tables not marked 'js')")
    check("Per-class Recall@1" in text and "Quality vs latency" in text,
          "chart titles missing from the DOM text")

    # 3. sorting by a click, and no horizontal overflow at phone width
    sort_page = os.path.join(out, "report-sorttest.html")
    make_sort_page(page, sort_page)
    rc, dom_text, err = run_chromium(chromium, ["--window-size=390,800", "--dump-dom"],
                                     "file://" + os.path.abspath(sort_page), args.workdir)
    check(rc == 0, "sort test page failed (rc %d)" % rc)
    check(not console_lines(err), "console messages on the sort test page: %s"
          % short(console_lines(err)))
    body = parse_dom(dom_text).body_attrs
    s1, s2 = body.get("data-sort1", ""), body.get("data-sort2", "")
    print("sort: first click %s; second click %s; overflow %s px" %
          (s1, s2, body.get("data-overflow")))

    def values(s):
        vals = s.split("|")[0].split(",")
        nums = [float(v) for v in vals if v != ""]
        return vals, nums

    v1, n1 = values(s1)
    v2, n2 = values(s2)
    check(s1.endswith("|descending") and n1 == sorted(n1, reverse=True) and len(n1) >= 2,
          "first click on mAP did not sort descending: %r" % s1)
    check(s2.endswith("|ascending") and n2 == sorted(n2) and len(n2) == len(n1),
          "second click did not sort ascending: %r" % s2)
    check(v1 and v1[-1] == "" and v2[-1] == "", "n/a rows are not kept last: %r %r" % (s1, s2))
    try:
        overflow = int(float(body.get("data-overflow", "nan")))
    except ValueError:
        overflow = 9999
    check(overflow <= 0, "the page overflows a 390 px viewport by %s px" % overflow)

    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("all checks passed; screenshots in %s" % args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
