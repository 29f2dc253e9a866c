#!/usr/bin/env python3
"""Builds a minimal OCI image of one Shoal binary without a container engine.

Two steps (scripts/images.sh runs both; deploy/docker runs `rootfs` inside its
build so that both ways make the same root filesystem):

  rootfs DEST --binary PATH [--strip]
      Stages a root filesystem in DEST: the binary in /usr/local/bin, exactly
      the shared libraries `ldd` resolves for it and the dynamic loader (each
      with the symlinks that lead to it on this Debian system), the CA bundle
      with OpenSSL's default paths to it, /etc/passwd and /etc/group with the
      user 65532 "nonroot", /etc/os-release, and for every Debian package a
      file came from its copyright file and its dpkg record (in
      /var/lib/dpkg/status.d, where image scanners look). No shell, no
      package manager.

  pack ROOTFS --out FILE.oci.tar --repository R --tag T --entrypoint PATH ...
      Writes ROOTFS as one gzip layer plus image config, manifest, index.json
      and oci-layout (OCI image spec v1.0) into a tar archive, and prints the
      manifest digest. Deterministic: entries sorted, owner 0:0, every mtime
      and the config's `created` from --epoch, gzip without name or time, and
      JSON with sorted keys, so the same inputs give the same digest.

Only the Python standard library, ldd, strip, dpkg-query.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile

NONROOT = 65532
PASSWD = f"root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:{NONROOT}:{NONROOT}:nonroot:/nonexistent:/usr/sbin/nologin\n"
GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"
# glibc 2.36 has the files and dns sources built in; this states the order.
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# OpenSSL's compiled-in defaults on Debian (OPENSSLDIR=/usr/lib/ssl), which
# SSL_CTX_set_default_verify_paths reads: symlinks to the bundle.
OPENSSL_DEFAULTS = ["/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs"]

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# dpkg architecture -> OCI platform architecture (and variant).
PLATFORMS = {
    "amd64": ("amd64", None),
    "arm64": ("arm64", "v8"),
    "armhf": ("arm", "v7"),
    "i386": ("386", None),
    "ppc64el": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


def fail(msg):
    print(f"oci_image: {msg}", file=sys.stderr)
    sys.exit(1)


def run(argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class Rootfs:
    """A root filesystem being staged in `dest`, mirroring host paths."""

    def __init__(self, dest):
        self.dest = dest
        self.owned = []  # host files whose Debian package the image records

    def _at(self, path):
        return os.path.join(self.dest, path.lstrip("/"))

    def mkdir(self, path, mode=0o755):
        d = self._at(path)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, mode)

    def write(self, path, text, mode=0o644):
        self.mkdir(os.path.dirname(path))
        with open(self._at(path), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self._at(path), mode)

    def copy_path(self, path, own=True):
        """Copies host `path` into the rootfs, with every symlink met on the way
        (so /lib/x86_64-linux-gnu/libssl.so.3 brings the /lib -> usr/lib link,
        and the soname link to the versioned file). A directory at the end is
        created empty. With `own`, records the package of a regular file."""
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for i, part in enumerate(parts):
            nxt = os.path.join(cur, part)
            if os.path.islink(nxt):
                target = os.readlink(nxt)
                link = self._at(nxt)
                if not os.path.lexists(link):
                    self.mkdir(cur)
                    os.symlink(target, link)
                resolved = os.path.normpath(os.path.join(cur, target))
                rest = "/".join(parts[i + 1:])
                return self.copy_path(os.path.join(resolved, rest) if rest else resolved, own)
            if i < len(parts) - 1:
                if not os.path.isdir(nxt):
                    fail(f"{nxt} is not a directory")
                self.mkdir(nxt)
            elif os.path.isdir(nxt):
                self.mkdir(nxt)
            elif os.path.isfile(nxt):
                self.mkdir(cur)
                out = self._at(nxt)
                if not os.path.exists(out):
                    shutil.copyfile(nxt, out)
                    executable = os.stat(nxt).st_mode & stat.S_IXUSR
                    os.chmod(out, 0o755 if executable else 0o644)
                if own:
                    self.owned.append(nxt)
            else:
                fail(f"{nxt} does not exist")
            cur = nxt
        return None


def owning_packages(paths):
    """The Debian package (name:arch as dpkg prints it) that ships each of
    `paths`, in one dpkg-query. dpkg may know a merged-/usr file under its
    /lib or /usr/lib name."""
    variants = {}
    for path in paths:
        if path.startswith("/usr/lib/"):
            variants[path] = [path, path[len("/usr"):]]
        elif path.startswith("/lib/"):
            variants[path] = [path, "/usr" + path]
        else:
            variants[path] = [path]
    queried = sorted({v for vs in variants.values() for v in vs})
    # Exits 1 when some variant is unknown; what it found is still printed.
    r = subprocess.run(["dpkg-query", "-S", *queried], capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkg, sep, owned = line.partition(": ")
        if sep and "," not in pkg and not pkg.startswith("diversion "):
            owner[owned.strip()] = pkg
    out = {}
    for path, vs in variants.items():
        found = [owner[v] for v in vs if v in owner]
        if not found:
            fail(f"no Debian package ships {path}")
        out[path] = found[0]
    return out


def package_records(packages):
    """dpkg's status record of each package (`dpkg-query -s`), by name:arch."""
    text = run(["dpkg-query", "-s", *packages])
    records = {}
    for stanza in text.strip().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        name, arch = fields.get("Package"), fields.get("Architecture")
        records[name] = records[f"{name}:{arch}"] = stanza.strip() + "\n"
    missing = [p for p in packages if p not in records]
    if missing:
        fail(f"dpkg has no record of {' '.join(missing)}")
    return records


def shared_libraries(binary):
    """Every library the dynamic loader maps for `binary` (ldd: direct and
    transitive), plus the loader itself."""
    out = run(["ldd", binary])
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            fail(f"{binary}: {line}")
        m = re.match(r"\S+ => (/\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            libs.append(m.group(1))
            continue
        m = re.match(r"(/\S+) \(0x[0-9a-f]+\)$", line)  # the loader
        if m:
            libs.append(m.group(1))
    if not libs:
        fail(f"ldd found no shared libraries for {binary} (a static binary needs none of this)")
    for lib in libs:
        name = os.path.basename(lib)
        if name.startswith(("libasan.so", "libubsan.so", "libtsan.so")):
            fail(f"{binary} is a sanitizer build ({name}); build images from a plain build")
    return libs


def stage_rootfs(args):
    dest = args.dest
    if os.path.exists(dest) and os.listdir(dest):
        fail(f"{dest} exists and is not empty")
    os.makedirs(dest, exist_ok=True)
    os.chmod(dest, 0o755)
    fs = Rootfs(dest)
    name = args.name or os.path.basename(args.binary)
    target = f"/usr/local/bin/{name}"
    fs.mkdir("/usr/local/bin")
    if args.strip:
        run(["strip", "--strip-unneeded", "-o", fs._at(target), args.binary])
    else:
        shutil.copyfile(args.binary, fs._at(target))
    os.chmod(fs._at(target), 0o755)

    for lib in shared_libraries(args.binary):
        fs.copy_path(lib)
    # The CA bundle is generated by update-ca-certificates (no package owns
    # the file); its package is ca-certificates (recorded below through
    # update-ca-certificates, which it ships).
    if not os.path.isfile(CA_BUNDLE):
        fail(f"{CA_BUNDLE} is missing (apt-get install ca-certificates)")
    fs.copy_path(CA_BUNDLE, own=False)
    for p in OPENSSL_DEFAULTS:
        fs.copy_path(p, own=False)  # symlinks only: the openssl tool stays out
    fs.copy_path("/etc/os-release")  # -> ../usr/lib/os-release (base-files)

    fs.write("/etc/passwd", PASSWD)
    fs.write("/etc/group", GROUP)
    fs.write("/etc/nsswitch.conf", NSSWITCH)
    fs.mkdir("/tmp", 0o1777)

    owners = owning_packages(fs.owned + ["/usr/sbin/update-ca-certificates"])
    packages = sorted(set(owners.values()))
    records = package_records(packages)
    for pkg in packages:
        short = pkg.split(":")[0]
        copyright_file = f"/usr/share/doc/{short}/copyright"
        if os.path.lexists(copyright_file):
            fs.copy_path(copyright_file, own=False)
        fs.write(f"/var/lib/dpkg/status.d/{short}", records[pkg])
    for path in ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash"):
        if os.path.lexists(fs._at(path)):
            fail(f"a shell got into the root filesystem: {path}")
    print(" ".join(p.split(":")[0] for p in packages))


class DigestWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes to `sink`."""

    def __init__(self, sink):
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.size += len(b)
        return self.sink.write(b) if self.sink else len(b)

    def digest(self):
        return "sha256:" + self.sha.hexdigest()


def tar_entries(root):
    """Every path under root, relative, sorted, parents before children."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            out.append(os.path.normpath(os.path.join(rel, n)))
    return sorted(out)


def tarinfo(root, rel, epoch):
    path = os.path.join(root, rel)
    st = os.lstat(path)
    ti = tarfile.TarInfo(rel)
    ti.mtime = epoch
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
        ti.mode = 0o777
    elif stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISREG(st.st_mode):
        ti.size = st.st_size
    else:
        fail(f"unsupported file type: {path}")
    return ti


def write_layer(root, blob_path, epoch):
    """Writes root as a gzip tar layer; returns (diff_id, digest, size)."""
    with open(blob_path, "wb") as f:
        compressed = DigestWriter(f)
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=6) as gz:
            plain = DigestWriter(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for rel in tar_entries(root):
                    ti = tarinfo(root, rel, epoch)
                    if ti.isreg():
                        with open(os.path.join(root, rel), "rb") as src:
                            tar.addfile(ti, src)
                    else:
                        tar.addfile(ti)
    return plain.digest(), compressed.digest(), compressed.size


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def add_bytes(tar, name, data, epoch):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(data), epoch, 0o644
    tar.addfile(ti, io.BytesIO(data))


def pack(args):
    epoch = args.epoch
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dpkg_arch = run(["dpkg", "--print-architecture"]).strip()
    if dpkg_arch not in PLATFORMS:
        fail(f"unknown architecture {dpkg_arch}")
    arch, variant = PLATFORMS[dpkg_arch]
    platform = {"architecture": arch, "os": "linux"}
    if variant:
        platform["variant"] = variant
    reference = f"{args.repository}:{args.tag}"

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    layer_tmp = args.out + ".layer.tmp"
    try:
        diff_id, layer_digest, layer_size = write_layer(args.rootfs, layer_tmp, epoch)
        labels = dict(kv.split("=", 1) for kv in args.label)
        labels.setdefault("org.opencontainers.image.version", args.tag)
        config = {
            "created": created,
            "architecture": arch,
            "os": "linux",
            "config": {
                "User": args.user,
                "Entrypoint": [args.entrypoint],
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "WorkingDir": "/",
                "ExposedPorts": {f"{p}/tcp": {} for p in args.port},
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created, "created_by": "scripts/images.sh (scripts/oci_image.py)"}],
        }
        if variant:
            config["variant"] = variant
        config_bytes = canonical(config)
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}],
            "annotations": {"org.opencontainers.image.created": created, **labels},
        }
        manifest_bytes = canonical(manifest)
        manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        index = {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [{
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": platform,
                # ref.name is the tag (what umoci and skopeo select by);
                # containerd (ctr import, kind load) names the image by the
                # full reference.
                "annotations": {
                    "org.opencontainers.image.ref.name": args.tag,
                    "io.containerd.image.name": reference,
                },
            }],
        }
        tmp = args.out + ".tmp"
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for d in ("blobs", "blobs/sha256"):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, epoch
                tar.addfile(ti)
            blobs = {config_digest: config_bytes, manifest_digest: manifest_bytes}
            for digest in sorted(set(blobs) | {layer_digest}):
                name = "blobs/sha256/" + digest.split(":", 1)[1]
                if digest == layer_digest:
                    ti = tarfile.TarInfo(name)
                    ti.size, ti.mtime, ti.mode = layer_size, epoch, 0o644
                    with open(layer_tmp, "rb") as f:
                        tar.addfile(ti, f)
                else:
                    add_bytes(tar, name, blobs[digest], epoch)
            add_bytes(tar, "index.json", canonical(index), epoch)
            add_bytes(tar, "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}), epoch)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(layer_tmp):
            os.remove(layer_tmp)
    print(f"{manifest_digest} {reference} {os.path.getsize(args.out)} {args.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rootfs", help="stage a minimal root filesystem for one binary")
    r.add_argument("dest")
    r.add_argument("--binary", required=True)
    r.add_argument("--name", help="file name in /usr/local/bin (default: the binary's)")
    r.add_argument("--strip", action="store_true", help="strip --strip-unneeded the copy")
    k = sub.add_parser("pack", help="write a staged root filesystem as an OCI image archive")
    k.add_argument("rootfs")
    k.add_argument("--out", required=True)
    k.add_argument("--repository", required=True)
    k.add_argument("--tag", required=True)
    k.add_argument("--entrypoint", required=True)
    k.add_argument("--user", default=f"{NONROOT}:{NONROOT}")
    k.add_argument("--port", action="append", default=[], type=int)
    k.add_argument("--label", action="append", default=[], help="KEY=VALUE")
    k.add_argument("--epoch", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    args = p.parse_args()
    if args.cmd == "rootfs":
        stage_rootfs(args)
    else:
        pack(args)


if __name__ == "__main__":
    main()
