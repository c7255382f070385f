"""`make install`'s rules (dist/CMakeLists.txt, man/CMakeLists.txt): the
test build is installed with DESTDIR into a temp dir and the tree is
inspected — binaries, man pages, systemd unit, example config, logrotate
snippet, bash completion — then the installed muster is run on the
installed example config (ports and paths moved into the temp dir): it
finds dummy_service next to itself, and the installed `musterctl wait`
sees it ready. A second install keeps an edited config. The installed
muster finds its installed TLS module: `--check` of a config with TLS
passes."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import BIN, SRC, TIMEOUT, free_port, wait_pid_gone  # noqa: E402
import tlscerts  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(BIN))


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    raise AssertionError("%s not in CMakeCache.txt" % name)


def install(destdir):
    r = subprocess.run(["cmake", "--install", BUILD], capture_output=True, text=True,
                       timeout=TIMEOUT * 4, env=dict(os.environ, DESTDIR=destdir))
    if r.returncode != 0:
        raise AssertionError("cmake --install failed: %s%s" % (r.stdout, r.stderr))
    return r.stdout


def verify_unit(path):
    """systemd-analyze verify's complaints about the unit file itself (the
    binaries it names are not installed at their real paths here)."""
    if shutil.which("systemd-analyze") is None:
        return []
    r = subprocess.run(["systemd-analyze", "--man=no", "verify", path], capture_output=True,
                       text=True, timeout=TIMEOUT)
    noise = ("is not executable", "not found", "Failed to create", "Failed to prepare")
    return [ln for ln in (r.stdout + r.stderr).splitlines()
            if ln.strip() and not any(n in ln for n in noise)]


class InstallTest(unittest.TestCase):

    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix="muster-install-")
        self.prefix = cache_value("CMAKE_INSTALL_PREFIX")
        self.root = self.dest + self.prefix
        self.etc = self.dest + ("/etc" if self.prefix == "/usr" else self.prefix + "/etc")
        self.pids = []

    def tearDown(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dest, ignore_errors=True)

    def test_tree(self):
        install(self.dest)
        for b in ("muster", "musterctl", "dummy_service", "chat_service", "readmongo_service"):
            self.assertTrue(os.access(os.path.join(self.root, "bin", b), os.X_OK), b)
        for page in ("man8/muster.8", "man8/musterctl.8", "man5/muster.json.5",
                     "man8/dummy_service.8", "man8/readmongo_service.8"):
            self.assertTrue(os.path.exists(os.path.join(self.root, "share/man", page)), page)
        with open(os.path.join(self.root, "share/bash-completion/completions/musterctl")) as f:
            with open(os.path.join(SRC, "dist/musterctl.bash-completion")) as g:
                self.assertEqual(f.read(), g.read())
        example = os.path.join(self.root, "share/doc/muster/examples/muster.json")
        conf = os.path.join(self.etc, "muster/muster.json")
        with open(example) as f, open(conf) as g:
            self.assertEqual(json.load(f), json.load(g))
        # The example socket unit listens where the example config does.
        with open(os.path.join(self.root, "share/doc/muster/examples/muster.socket")) as f:
            streams = [ln.split("=", 1)[1].strip() for ln in f if ln.startswith("ListenStream=")]
        with open(example) as f:
            cfg = json.load(f)
        self.assertEqual(streams, [cfg["gateway"]["listen"], cfg["admin"]["listen"]])

        with open(os.path.join(BUILD, "install_manifest.txt")) as f:
            installed = f.read().split()
        (unit,) = [p for p in installed if p.endswith("/systemd/system/muster.service")]
        unit_file = self.dest + unit  # the manifest names files without DESTDIR
        with open(unit_file) as f:
            unit = f.read()
        bindir, config = self.prefix + "/bin", conf[len(self.dest):]
        for line in ("Type=notify", "KillMode=mixed", "NotifyAccess=main", "User=muster",
                     "ExecStartPre=%s/muster --check -c %s" % (bindir, config),
                     "ExecStart=%s/muster -c %s" % (bindir, config),
                     "ExecReload=%s/musterctl -s /run/muster/muster.sock reload" % bindir,
                     "WantedBy=multi-user.target"):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))
        self.assertNotRegex(unit, r"(?m)^MemoryDenyWriteExecute")
        self.assertEqual(verify_unit(unit_file), [])

        with open(os.path.join(self.etc, "logrotate.d/muster")) as f:
            rot = f.read()
        self.assertIn("kill -USR1", rot)
        self.assertIn("postrotate", rot)
        self.assertNotIn("copytruncate", rot.replace("no copytruncate", ""))

        # Installing again keeps a config edited in place.
        with open(conf, "a") as f:
            f.write("\n")
        edited = open(conf).read()
        self.assertIn("Kept: ", install(self.dest))
        self.assertEqual(open(conf).read(), edited)

    def test_installed_muster_opens_its_tls_module(self):
        install(self.dest)
        mods = [os.path.join(dp, f) for dp, _, fs in os.walk(self.root) for f in fs
                if f == "muster-tls.so"]
        self.assertEqual(len(mods), 1, mods)
        self.assertEqual(os.path.basename(os.path.dirname(mods[0])), "muster")
        cert, key = tlscerts.CertFactory(self.dest).leaf("a", ["a.test"])
        path = tlscerts.write_tls_config(os.path.join(self.dest, "tls.json"), cert, key,
                                         os.path.join(self.dest, "s"))
        check = subprocess.run([os.path.join(self.root, "bin/muster"), "--check", "-c", path],
                               capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual((check.returncode, check.stdout), (0, "config ok\n"), check.stderr)
        os.rename(mods[0], mods[0] + ".gone")
        check = subprocess.run([os.path.join(self.root, "bin/muster"), "--check", "-c", path],
                               capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(check.returncode, 1, check.stderr)
        self.assertIn("TLS needs the module %s" % mods[0], check.stderr)

    def test_installed_muster_runs_the_example_config(self):
        install(self.dest)
        run = os.path.join(self.dest, "run")
        os.makedirs(run)
        with open(os.path.join(self.etc, "muster/muster.json")) as f:
            cfg = json.load(f)
        cfg["gateway"]["listen"] = "127.0.0.1:%d" % free_port()
        cfg["gateway"]["access_log"] = os.path.join(run, "access.log")
        cfg["admin"]["listen"] = "127.0.0.1:%d" % free_port()
        cfg["control"]["socket"] = os.path.join(run, "muster.sock")
        cfg["logs"]["dir"] = os.path.join(run, "logs")
        path = os.path.join(run, "muster.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        muster = os.path.join(self.root, "bin/muster")
        musterctl = os.path.join(self.root, "bin/musterctl")
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET",)}
        env["PATH"] = "/usr/bin:/bin"  # dummy_service must come from next to muster
        check = subprocess.run([muster, "--check", "-c", path], capture_output=True, text=True,
                               timeout=TIMEOUT, env=env)
        self.assertEqual((check.returncode, check.stdout), (0, "config ok\n"), check.stderr)
        with open(os.path.join(run, "stderr"), "w") as err:
            p = subprocess.Popen([muster, "-c", path], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=run)
        self.pids.append(p.pid)
        try:
            # The socket appears once muster listens; wait retries nothing, so
            # poll for the file first (bounded).
            for _ in range(int(TIMEOUT * 20)):
                if os.path.exists(cfg["control"]["socket"]) or p.poll() is not None:
                    break
                wait_pid_gone(p.pid, 0.05)
            r = subprocess.run([musterctl, "-s", cfg["control"]["socket"], "--json", "wait",
                                "dummy", "--timeout", str(TIMEOUT)],
                               capture_output=True, text=True, timeout=TIMEOUT * 2, env=env)
            self.assertEqual(r.returncode, 0, r.stderr + open(os.path.join(run, "stderr")).read())
            insts = json.loads(r.stdout)["services"][0]["instances"]
            pid = next(i["pid"] for i in insts if i["state"] == "ready")
            self.assertEqual(os.path.realpath("/proc/%d/exe" % pid),
                             os.path.realpath(os.path.join(self.root, "bin/dummy_service")))
        finally:
            p.send_signal(signal.SIGTERM)
            code = p.wait(TIMEOUT)
        self.assertEqual(code, 0, open(os.path.join(run, "stderr")).read())


if __name__ == "__main__":
    unittest.main()
