"""Certificates for the TLS tests, made with the `openssl` command in a
directory of the test's: a root CA, an intermediate CA under it, and leaf
certificates the intermediate signs (so a cert file holding leaf +
intermediate is a real chain a client that trusts only the root must be
sent). Leaves may be expired or expire soon (`openssl ca` sets the dates)."""
import json
import os
import ssl
import subprocess

from musterproc import free_port

CA_CONF = """
[ req ]
distinguished_name = req_dn
[ req_dn ]
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${{ENV::SAN}}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def run(*args, env=None):
    """Runs openssl with args; raises with its output when it fails."""
    env = env or dict(os.environ, SAN="DNS:unused")  # the config file reads $SAN
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


class CertFactory:
    """Makes keys and certificates under dir; paths are returned."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(os.path.join(dir, "newcerts"), exist_ok=True)
        open(os.path.join(dir, "index.txt"), "w").close()
        with open(os.path.join(dir, "serial"), "w") as f:
            f.write("1000\n")
        self.conf = os.path.join(dir, "ca.cnf")
        with open(self.conf, "w") as f:
            f.write(CA_CONF.format(dir=dir))
        self.root_key, self.root = self._root()
        self.inter_key, self.inter = self._intermediate()

    def path(self, name):
        return os.path.join(self.dir, name)

    def key(self, name, rsa_bits=None):
        """A new P-256 key in NAME.key (an RSA key of rsa_bits when given)."""
        out = self.path(name + ".key")
        if rsa_bits:
            run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % rsa_bits,
                "-out", out)
        else:
            run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out)
        return out

    def _root(self):
        key = self.key("root")
        cert = self.path("root.pem")
        run("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "3650",
            "-subj", "/CN=muster test root", "-config", self.conf, "-extensions", "v3_ca")
        return key, cert

    def _sign(self, csr, out, ext, san, issuer_cert, issuer_key, days=None, start=None, end=None):
        env = dict(os.environ, SAN=san)
        args = ["ca", "-batch", "-notext", "-config", self.conf, "-extensions", ext,
                "-cert", issuer_cert, "-keyfile", issuer_key, "-in", csr, "-out", out]
        if start:
            args += ["-startdate", start, "-enddate", end]
        else:
            args += ["-days", str(days or 365)]
        run(*args, env=env)

    def _intermediate(self):
        key = self.key("inter")
        csr, cert = self.path("inter.csr"), self.path("inter.pem")
        run("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=muster test intermediate")
        self._sign(csr, cert, "v3_ca", "DNS:unused", self.root, self.root_key, days=3650)
        return key, cert

    def leaf(self, name, dns, days=None, start=None, end=None, chain=True, rsa_bits=None):
        """A leaf for DNS names dns (a list; the first is its CN): NAME.pem
        (leaf, then the intermediate when chain) and NAME.key, a P-256 key
        unless rsa_bits. Returns (cert path, key path)."""
        key = self.key(name, rsa_bits)
        csr, cert = self.path(name + ".csr"), self.path(name + ".pem")
        run("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + dns[0])
        self._sign(csr, cert, "leaf", ",".join("DNS:" + d for d in dns), self.inter,
                   self.inter_key, days=days, start=start, end=end)
        if chain:
            with open(cert, "a") as f, open(self.inter) as i:
                f.write(i.read())
        return cert, key


def write_tls_config(path, cert, key, control_socket, **top):
    """A muster config at path whose gateway has TLS on a free port with
    the pair (cert, key); top adds to the gateway section ("listen") or the
    top level (anything else). For `muster --check` and starts."""
    cfg = {"gateway": {"tls": {"listen": "127.0.0.1:%d" % free_port(),
                               "certificates": [{"cert": cert, "key": key}]}},
           "control": {"socket": control_socket}}
    if "listen" in top:
        cfg["gateway"]["listen"] = top.pop("listen")
    cfg.update(top)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def leaf_der(cert_path):
    """The DER bytes of the first certificate in a PEM file."""
    with open(cert_path) as f:
        pem = f.read()
    end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(pem[:end] + "\n")
