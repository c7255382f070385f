"""bash completion of musterctl (dist/musterctl.bash-completion): the
completion function runs under bash with COMP_WORDS/COMP_CWORD set as bash
sets them, against a running muster whose services it must name (asked
live, so a service added by a reload is offered at once)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import BIN, SRC, TIMEOUT, Muster, ctl, service  # noqa: E402

SCRIPT = os.path.join(SRC, "dist", "musterctl.bash-completion")
MUSTERCTL = os.path.join(BIN, "musterctl")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def complete(words, env=None, prelude=""):
    """COMPREPLY for the command line words (the last one is being typed)."""
    script = prelude + """
[ -n "$PRELUDE_DONE" ] || source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_musterctl musterctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""
    e = dict(os.environ)
    e.pop("MUSTER_SOCKET", None)
    e.update(env or {})
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", SCRIPT] + words,
                       capture_output=True, text=True, timeout=TIMEOUT, env=e)
    if r.returncode != 0:
        raise AssertionError("bash failed (%d): %s" % (r.returncode, r.stderr))
    return sorted(w for w in r.stdout.split("\n") if w)


def dummy(name):
    return service(name, ["dummy_service"], routes=["/" + name])


class CompletionTest(unittest.TestCase):

    def test_commands_and_options_without_muster(self):
        all_cmds = sorted("status start stop restart scale signal reload logs flush env events drain "
                          "undrain "
                          "rooms "
                          "publish shutdown "
                          "version "
                          "wait top".split())
        self.assertEqual(complete([MUSTERCTL, ""]), all_cmds)
        self.assertEqual(complete([MUSTERCTL, "st"]), ["start", "status", "stop"])
        self.assertEqual(complete([MUSTERCTL, "--"]),
                         ["--help", "--json", "--socket", "--version"])
        # Nothing answers on that socket: no names, and no waiting.
        t0 = time.monotonic()
        self.assertEqual(complete([MUSTERCTL, "-s", "/nonexistent/muster.sock", "start", ""]), [])
        self.assertLess(time.monotonic() - t0, 5)

    def test_service_names_live(self):
        with Muster([dummy("alpha"), dummy("beta")]).start() as m:
            sock = os.path.join(m.dir, "run/muster.sock")
            m.seen_or_expect(r"control: listening on ")
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "restart", ""]),
                             ["all", "alpha", "beta"])  # start, stop, restart take all
            self.assertEqual(complete([MUSTERCTL, "--socket=" + sock, "logs", "al"]), ["alpha"])
            self.assertEqual(complete([MUSTERCTL, "wait", ""], {"MUSTER_SOCKET": sock}),
                             ["alpha", "beta"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "--json", "status", "b"]),
                             ["beta"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "logs", "alpha", "-"]),
                             ["--follow", "--json", "--lines", "-f", "-n"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "logs", "-n", ""]), [])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "logs", "-n", "5", "al"]),
                             ["alpha"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "wait", "alpha", "--t"]),
                             ["--timeout"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "reload", ""]), [])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "signal", "alpha", "U"]),
                             ["USR1", "USR2"])
            # A service added by a reload is offered at once.
            m.config["services"].append(dummy("gamma"))
            m.write_config()
            self.assertTrue(ctl(m, cmd="reload")["ok"])
            self.assertEqual(complete([MUSTERCTL, "-s", sock, "stop", ""]),
                             ["all", "alpha", "beta", "gamma"])

    def test_loaded_on_demand_by_bash_completion(self):
        self.assertTrue(os.path.exists(BASH_COMPLETION),
                        "bash-completion is not installed: run tools/deps.sh test")
        d = tempfile.mkdtemp(prefix="muster-compl-")
        try:
            comp = os.path.join(d, "share", "bash-completion", "completions")
            os.makedirs(comp)
            shutil.copy(SCRIPT, os.path.join(comp, "musterctl"))
            prelude = ('source %s\n__load_completion musterctl || exit 3\n'
                       'complete -p musterctl | grep -q -- "-F _musterctl" || exit 4\n'
                       'PRELUDE_DONE=1\n' % BASH_COMPLETION)
            with Muster([dummy("alpha")]).start() as m:
                m.seen_or_expect(r"control: listening on ")
                sock = os.path.join(m.dir, "run/muster.sock")
                env = {"XDG_DATA_DIRS": os.path.join(d, "share"), "MUSTER_SOCKET": sock,
                       "BASH_COMPLETION_USER_DIR": os.path.join(d, "none")}
                self.assertEqual(complete([MUSTERCTL, "scale", ""], env, prelude), ["alpha"])
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
