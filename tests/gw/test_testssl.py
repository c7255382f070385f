"""testssl.sh (Debian's `testssl.sh`) against muster's TLS listener on
127.0.0.1: protocols (-p), cipher categories (-s) and vulnerabilities
(-U). Fails on a protocol below TLS 1.2 offered, a weak cipher category
offered, or a vulnerability line that is not "not vulnerable". Skipped
when testssl is not installed (tools/deps.sh test installs it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

from gwtest import dummy, wait_ready  # noqa: E402
from musterproc import Muster, free_port  # noqa: E402
import tlscerts  # noqa: E402

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")

# Lines of the -U section that are fine although they do not say "not vulnerable".
BENIGN = ("no RSA certificate", "Server does not support any cipher suites that use RSA",
          "no HTTP compression", "No fallback possible", "supported (OK)",
          "no RC4 ciphers detected")


@unittest.skipIf(TESTSSL is None, "testssl is not installed (apt-get install testssl.sh)")
class TestSSL(unittest.TestCase):
    def test_grade(self):
        d = tempfile.mkdtemp(prefix="muster-testssl-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = tlscerts.CertFactory(d).leaf("site", ["localhost"])
        port = free_port()
        with Muster([dummy()]) as m:
            m.config["gateway"]["tls"] = {"listen": "127.0.0.1:%d" % port,
                                          "certificates": [{"cert": cert, "key": key}]}
            m.write_config()
            m.start()
            wait_ready(m, "dummy")
            m.seen_or_expect(r"gateway: TLS listening on ")
            p = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "off",
                                "-p", "-s", "-U", "--ip", "one", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=240)
        out = p.stdout
        print(out)
        self.check(out)

    def check(self, out):
        self.assertIn("Testing vulnerabilities", out, out)
        for proto in ("SSLv2", "SSLv3", "TLS 1 ", "TLS 1.1"):
            line = next((ln for ln in out.splitlines() if ln.strip().startswith(proto)), None)
            self.assertIsNotNone(line, "no line for %s:\n%s" % (proto, out))
            self.assertIn("not offered", line)
        self.assertRegex(out, r"TLS 1\.2\s+offered")
        self.assertRegex(out, r"TLS 1\.3\s+offered")
        for cat in ("NULL ciphers", "Anonymous NULL", "Export ciphers", "LOW: 64 Bit",
                    "Triple DES", "Obsolete CBC"):
            line = next((ln for ln in out.splitlines() if cat in ln), None)
            self.assertIsNotNone(line, "no line for %s:\n%s" % (cat, out))
            self.assertIn("not offered", line)
        vulns = out.split("Testing vulnerabilities", 1)[1].split("Done", 1)[0]
        for ln in vulns.splitlines():
            if not re.search(r"\S", ln) or "not vulnerable" in ln:
                continue
            if any(b in ln for b in BENIGN):
                continue
            self.fail("testssl flags: %r\n%s" % (ln.strip(), out))


if __name__ == "__main__":
    unittest.main()
