"""`make deb`: tools/build-deb.sh builds the Debian package from a copy of
the source tree into a temp dir (DEB_BUILD_OPTIONS="nocheck parallel=2",
so the package build compiles the project once and runs no test suite);
then the package is inspected: control fields, contents, conffiles,
maintainer scripts, the unit, the binaries' hardening, the packaged
muster opening its packaged TLS module, and lintian must report no
error. The source tree must be left as it was."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import SRC, TIMEOUT  # noqa: E402
import tlscerts  # noqa: E402

TOOLS = ("dpkg-buildpackage", "dh", "dpkg-deb", "lintian", "fakeroot")


def run(*cmd, **kw):
    kw.setdefault("timeout", TIMEOUT * 2)
    r = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                         r.stdout[-4000:], r.stderr[-4000:]))
    return r.stdout


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(muster VERSION ([0-9.]+)", f.read()).group(1)


def tree_state():
    """The source tree's files as git sees them (every untracked or ignored
    file but the build dirs and Python caches, which other tests write to
    meanwhile), and the files beside it (where dpkg-buildpackage would put
    a package built in place)."""
    beside = sorted(f for f in os.listdir(os.path.dirname(os.path.abspath(SRC)))
                    if f.startswith(("muster_", "muster-dbgsym_")))
    if not os.path.exists(os.path.join(SRC, ".git")):
        return beside
    st = run("git", "-C", SRC, "status", "--porcelain", "--ignored", "--untracked-files=all")
    return beside, [ln for ln in st.splitlines()
                    if not re.search(r"(^.. build/|__pycache__|\.pyc$)", ln)]


class DebTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if missing:
            raise AssertionError("missing %s: run tools/deps.sh test" % ", ".join(missing))
        cls.out = tempfile.mkdtemp(prefix="muster-deb-")
        before = tree_state()
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
        for k in ("MUSTER_BIN_DIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "MAKEFLAGS", "MFLAGS"):
            env.pop(k, None)
        cls.log = run(os.path.join(SRC, "tools/build-deb.sh"), cls.out, env=env, timeout=900)
        cls.tree_changed = before != tree_state()
        cls.version = project_version()
        arch = run("dpkg", "--print-architecture").strip()
        cls.deb = os.path.join(cls.out, "muster_%s_%s.deb" % (cls.version, arch))
        cls.data = os.path.join(cls.out, "data")
        cls.ctl = os.path.join(cls.out, "control")
        run("dpkg-deb", "-x", cls.deb, cls.data)
        run("dpkg-deb", "-e", cls.deb, cls.ctl)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_built_outside_the_source_tree(self):
        self.assertFalse(self.tree_changed, "the build wrote to the source tree")
        self.assertTrue(os.path.exists(self.deb), os.listdir(self.out))

    def test_control_fields(self):
        f = dict(line.split(": ", 1) for line in
                 run("dpkg-deb", "-f", self.deb, "Package", "Version", "Section",
                     "Depends", "Maintainer").splitlines())
        self.assertEqual(f["Package"], "muster")
        self.assertEqual(f["Version"], self.version)
        self.assertEqual(f["Section"], "net")
        for dep in ("adduser", "libuv1", "libcjson1", "libmongoc-1.0-0", "libc6", "libssl3"):
            self.assertIn(dep, f["Depends"])
        self.assertRegex(f["Maintainer"], r"<[^@>]+@[^>]+>")

    def test_contents(self):
        listing = run("dpkg-deb", "-c", self.deb)
        files = {ln.split()[-1].lstrip("."): ln.split()[0] for ln in listing.splitlines()}
        for b in ("muster", "musterctl", "dummy_service", "chat_service", "readmongo_service"):
            self.assertEqual(files.get("/usr/bin/" + b), "-rwxr-xr-x", b)
        for p in ("/lib/systemd/system/muster.service", "/etc/muster/muster.json",
                  "/etc/logrotate.d/muster", "/usr/share/bash-completion/completions/musterctl",
                  "/usr/share/man/man8/muster.8.gz", "/usr/share/man/man8/musterctl.8.gz",
                  "/usr/share/man/man5/muster.json.5.gz", "/usr/share/doc/muster/copyright",
                  "/usr/share/doc/muster/examples/muster.json",
                  "/usr/share/doc/muster/examples/muster.socket"):
            self.assertIn(p, files)
        mod = [p for p in files if p.endswith("/muster/muster-tls.so")]
        self.assertEqual(mod, ["/usr/lib/x86_64-linux-gnu/muster/muster-tls.so"])
        self.assertEqual(files[mod[0]], "-rw-r--r--")
        self.assertEqual([p for p in files if p.startswith("/usr/local")], [])
        with open(os.path.join(self.ctl, "conffiles")) as f:
            conffiles = f.read().split()
        self.assertEqual(sorted(conffiles), ["/etc/logrotate.d/muster", "/etc/muster/muster.json"])

    def test_maintainer_scripts(self):
        for name in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.ctl, name)
            self.assertTrue(os.access(path, os.X_OK), name)
            run("sh", "-n", path)
        with open(os.path.join(self.ctl, "postinst")) as f:
            post = f.read()
        user = post.find("adduser --system")
        self.assertGreaterEqual(user, 0)
        self.assertRegex(post, r"adduser --system --group .*\bmuster\n")
        # dh_installsystemd's part (enable, start) comes after the user exists.
        self.assertGreater(post.find("deb-systemd-helper"), user)
        self.assertIn("muster.service", post)
        with open(os.path.join(self.ctl, "postrm")) as f:
            self.assertIn('"$1" = purge', f.read())

    def test_unit_and_config(self):
        with open(os.path.join(self.data, "lib/systemd/system/muster.service")) as f:
            unit = f.read()
        for line in ("Type=notify", "KillMode=mixed", "User=muster",
                     "ExecStartPre=/usr/bin/muster --check -c /etc/muster/muster.json",
                     "ExecStart=/usr/bin/muster -c /etc/muster/muster.json",
                     "ExecReload=/usr/bin/musterctl -s /run/muster/muster.sock reload",
                     "NoNewPrivileges=yes", "ProtectSystem=strict"):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))
        self.assertNotRegex(unit, r"(?m)^MemoryDenyWriteExecute")
        # The packaged muster accepts the packaged config (dummy_service is
        # found next to the binary).
        muster = os.path.join(self.data, "usr/bin/muster")
        out = run(muster, "--check", "-c", os.path.join(self.data, "etc/muster/muster.json"),
                  env=dict(os.environ, PATH="/usr/bin:/bin"))
        self.assertEqual(out, "config ok\n")
        self.assertEqual(run(muster, "--version"), "muster %s\n" % self.version)

    def test_packaged_muster_opens_the_packaged_tls_module(self):
        """muster-tls.so is found from /usr/bin/muster in the package's own
        layout (LIBDIR is lib/x86_64-linux-gnu there)."""
        cert, key = tlscerts.CertFactory(self.out).leaf("a", ["a.test"])
        path = tlscerts.write_tls_config(os.path.join(self.out, "tls.json"), cert, key,
                                         os.path.join(self.out, "s"))
        out = run(os.path.join(self.data, "usr/bin/muster"), "--check", "-c", path)
        self.assertEqual(out, "config ok\n")

    def test_binaries_are_release_builds_with_hardening(self):
        for b in ("muster", "musterctl", "dummy_service", "chat_service", "readmongo_service"):
            path = os.path.join(self.data, "usr/bin", b)
            dyn = run("readelf", "-d", "-h", path)
            self.assertIn("DYN", dyn)          # PIE
            self.assertRegex(dyn, r"BIND_NOW|FLAGS_1.*NOW")
            self.assertNotIn("libasan", dyn)
            self.assertIn("__stack_chk_fail", run("readelf", "--dyn-syms", "-W", path))

    def test_lintian_reports_no_error(self):
        r = subprocess.run(["lintian", "--no-tag-display-limit", self.deb], capture_output=True,
                           text=True, timeout=TIMEOUT * 4)
        print("lintian:", r.stdout.strip() or "(nothing)", file=sys.stderr)
        errors = [ln for ln in r.stdout.splitlines() if ln.startswith("E:")]
        self.assertEqual(errors, [])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
