"""The man pages (man/*.scd, built with scdoc into BUILD/man): each renders
with man -l without a warning, muster.json(5) names every config key the
schema accepts (the key lists of config/*.c and the integer fields of
config/cfg_schema.c) and musterctl(8) every control command and request
field (control/ctl_cmd.h, control/ctl_cmd.c) and the client's own."""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import BIN, SRC, TIMEOUT  # noqa: E402

MAN_DIR = os.path.join(os.path.dirname(os.path.abspath(BIN)), "man")
PAGES = {"muster.8": "muster", "musterctl.8": "musterctl", "muster.json.5": "muster.json",
         "dummy_service.8": "dummy_service", "readmongo_service.8": "readmongo_service"}


def render(page):
    """(text, warnings) of man -l on the built page, 200 columns wide."""
    env = dict(os.environ, MANWIDTH="200", MAN_DISABLE_SECCOMP="1", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN_DIR, page)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if r.returncode != 0:
        raise AssertionError("man -l %s failed (%d): %s" % (page, r.returncode, r.stderr))
    return r.stdout, r.stderr


def source(page):
    with open(os.path.join(SRC, "man", page + ".scd")) as f:
        return f.read()


def c_files(pattern):
    out = ""
    for p in sorted(glob.glob(os.path.join(SRC, pattern))):
        with open(p) as f:
            out += f.read()
    return out


def config_keys():
    """Every key of every object the config schema accepts."""
    text = c_files("config/*.c")
    keys = set()
    for body in re.findall(r"static const char \*const \w+_keys\[\]\s*=\s*\{(.*?)\};", text, re.S):
        keys.update(re.findall(r'"([^"]+)"', body))
    keys.update(re.findall(r"INT_FIELD\(struct \w+,\s*(\w+),", text))
    return keys


def control_words():
    """Every command word and request field of the control protocol."""
    header = c_files("control/ctl_cmd.h")
    cmds = set(re.findall(r'XX\(\w+, "([a-z]+)", \d\)', header))
    fields = re.search(r"known\[\]\s*=\s*\{(.*?)\};", c_files("control/ctl_cmd.c"), re.S)
    return cmds, set(re.findall(r'"([a-z_]+)"', fields.group(1)))


def words_of(text):
    """The words of rendered text, hyphenation at line ends undone."""
    text = re.sub(r"[-\u2010]\n\s*", "", text)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text))


class ManTest(unittest.TestCase):

    def test_pages_render_without_warnings(self):
        for page, name in PAGES.items():
            with self.subTest(page=page):
                self.assertTrue(os.path.exists(os.path.join(MAN_DIR, page)),
                                "%s not built: is scdoc installed? (tools/deps.sh test)" % page)
                text, warnings = render(page)
                self.assertEqual(warnings, "")
                self.assertIn("NAME", text)
                self.assertRegex(text, r"(?m)^\s+%s - " % re.escape(name))
                for section in ("SYNOPSIS" if page.endswith(".8") else "DESCRIPTION",
                                "SEE ALSO"):
                    self.assertIn(section, text)

    def test_every_config_key_is_documented(self):
        keys = config_keys()
        # The lists are read from the code: make sure the reading works.
        self.assertTrue({"gateway", "services", "max_buffered_bytes", "prefix", "policy",
                         "window_s", "max_memory_mb", "socket", "keep"} <= keys, keys)
        text, _ = render("muster.json.5")
        rendered, src = words_of(text), set(re.findall(r"[A-Za-z_]\w*", source("muster.json.5")))
        self.assertEqual(sorted(keys - src), [], "keys missing from man/muster.json.5.scd")
        self.assertEqual(sorted(keys - rendered), [], "keys missing from muster.json(5)")

    def test_every_control_command_is_documented(self):
        cmds, fields = control_words()
        self.assertTrue({"status", "restart", "reload", "events", "version"} <= cmds, cmds)
        self.assertTrue({"cmd", "service", "instances", "lines", "follow"} <= fields, fields)
        text, _ = render("musterctl.8")
        rendered = words_of(text)
        for word in sorted(cmds | fields | {"wait", "top"}):
            with self.subTest(word=word):
                self.assertIn(word, rendered)
        # Each command has its own entry under COMMANDS.
        commands = text.split("COMMANDS", 1)[1].split("PROTOCOL", 1)[0]
        for cmd in sorted(cmds | {"wait", "top"}):
            self.assertRegex(commands, r"(?m)^\s{7}%s\b" % cmd)

    def test_muster_page_covers_options_and_signals(self):
        text, _ = render("muster.8")
        for word in ("--check", "--config", "--version", "SIGTERM", "SIGHUP", "SIGUSR1",
                     "NOTIFY_SOCKET", "WATCHDOG_USEC", "READY=1", "RELOADING=1", "STOPPING=1",
                     "MUSTER_CONFIG", "MUSTER_LOG_LEVEL"):
            self.assertIn(word, text)


if __name__ == "__main__":
    unittest.main()
