"""The user's reference stays true to the tree: README.md, ARCHITECTURE.md
and docs/*.md link only inside the repository, to files that exist and
headings that exist (GitHub's anchors); the demo config quoted in
docs/configuration.md is config/muster.json as it ships; and every
musterctl command its usage lists is in docs/control.md; the configs of
docs/migrating.md are ones muster accepts."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import SRC, TIMEOUT, bin_path  # noqa: E402

PAGES = [os.path.join(SRC, p) for p in ("README.md", "ARCHITECTURE.md")] + \
    sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def without_code(text):
    """text without fenced blocks and inline code (no links in there)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    """GitHub's heading anchors of a Markdown file."""
    out, seen = set(), {}
    with open(path) as f:
        text = re.sub(r"^```.*?^```", "", f.read(), flags=re.S | re.M)
    for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else "%s-%d" % (slug, n))
    return out


class Links(unittest.TestCase):
    def test_links_stay_inside_and_resolve(self):
        bad = []
        for page in PAGES:
            with open(page) as f:
                text = without_code(f.read())
            for target in LINK.findall(text):
                where = "%s: %s" % (os.path.relpath(page, SRC), target)
                if re.match(r"^[a-z]+:", target):
                    bad.append(where + " (outside the repository)")
                    continue
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                if not os.path.exists(dest):
                    bad.append(where + " (no such file)")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    bad.append(where + " (no such heading)")
        self.assertEqual(bad, [], "\n".join(bad))


class Quoted(unittest.TestCase):
    def test_demo_config_is_the_shipped_one(self):
        with open(os.path.join(SRC, "docs", "configuration.md")) as f:
            doc = f.read()
        m = re.search(r"`config/muster.json`:\n\n```json\n(.*?)```", doc, flags=re.S)
        self.assertIsNotNone(m, "configuration.md quotes no demo config")
        with open(os.path.join(SRC, "config", "muster.json")) as f:
            self.assertEqual(json.loads(m.group(1)), json.load(f))

    def test_migrating_configs_check(self):
        # Each JSON block of docs/migrating.md: a whole config, or one
        # service entry. Its files are made up in a scratch directory (the
        # TLS pair by openssl), its ports moved to free ones.
        with open(os.path.join(SRC, "docs", "migrating.md")) as f:
            blocks = re.findall(r"^```json\n(.*?)^```", f.read(), flags=re.S | re.M)
        self.assertGreaterEqual(len(blocks), 2)
        d = tempfile.mkdtemp(prefix="muster-migrating-")
        self.addCleanup(shutil.rmtree, d, True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=example.com", "-keyout", os.path.join(d, "k.pem"),
                        "-out", os.path.join(d, "c.pem")], capture_output=True, check=True,
                       timeout=TIMEOUT)
        for i, text in enumerate(blocks):
            cfg = json.loads(text)
            if "name" in cfg:
                cfg = {"services": [cfg]}
            self.check_config(d, i, cfg)

    def check_config(self, d, i, cfg):
        g = cfg.setdefault("gateway", {})
        g["listen"] = "127.0.0.1:1"
        if "tls" in g:
            g["tls"].update(listen="127.0.0.1:2", certificates=[
                {"cert": os.path.join(d, "c.pem"), "key": os.path.join(d, "k.pem")}])
        for st in cfg.get("static", []):
            os.makedirs(os.path.join(d, st["root"].lstrip("/")), exist_ok=True)
            st["root"] = os.path.join(d, st["root"].lstrip("/"))
        for svc in cfg["services"]:
            svc["cwd"] = d
        path = os.path.join(d, "m%d.json" % i)
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "config ok"),
                         "docs/migrating.md block %d: %s" % (i, p.stderr))

    def test_every_musterctl_command_is_in_control_md(self):
        r = subprocess.run([bin_path("musterctl"), "--help"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        usage = r.stdout + r.stderr
        listed = usage.partition("commands:")[2].partition("options:")[0]
        cmds = set(re.findall(r"^  ([a-z][a-z-]+)", listed, flags=re.M))
        self.assertGreater(len(cmds), 5, usage)
        with open(os.path.join(SRC, "docs", "control.md")) as f:
            doc = f.read()
        missing = sorted(c for c in cmds if not re.search(r"`%s\b" % re.escape(c), doc))
        self.assertEqual(missing, [], usage)


if __name__ == "__main__":
    unittest.main()
