"""The wheel folder of the GPU check (benchmarks/gpu_check.sh): prepare it here, verify it anywhere.

A GPU machine with no network installs the project's Python dependencies from a folder made in advance, on a
machine that reaches PyPI, for the GPU machine's Python version and platform (binary wheels only, as
``pip download --only-binary=:all: --python-version ... --platform manylinux...`` fetches them; mmcv 2.1.0 travels
as its source archive and is built there against the local CUDA torch)::

    python scripts/gpu_wheels.py prepare DIR [--python-version 3.12] [--profile full|check] [--provided FILE]
    python scripts/gpu_wheels.py verify DIR      # is DIR complete for its target? (no network, no GPU)
    python scripts/gpu_wheels.py manifest DIR    # rewrite DIR/manifest.json from the files in DIR
    python scripts/gpu_wheels.py provided DIR    # on the GPU machine: are the packages DIR leaves out importable?

What the folder must hold (``requirements``): every pin of requirements/pinned.txt (profile ``full``) or the pins
the GPU check imports (profile ``check``, whose wheels are rewritten without their ``tests`` folders: numpy's
and scipy's lose about a tenth: 5.7 MiB), plus mmdet 3.3.0, mmcv 2.1.0's runtime requirements, the build tools
(setuptools >=77,<81, wheel, ninja) and mmcv's source archive; torch never (the GPU machine has its CUDA build).
``--provided FILE`` names more packages the GPU machine already holds: they are neither downloaded nor required,
and pip resolves them as present (stand-in wheels of version 9999, in a temporary folder) both when preparing and
when verifying. ``verify`` reads ``manifest.json`` (what was fetched, for which target, each file's size and
SHA-256) and asks pip to resolve every requirement from the folder alone (``pip install --dry-run --no-index
--find-links DIR --only-binary=:all: --python-version ... --platform ...``): a missing wheel is an error naming
the requirement. pip evaluates environment markers for the Python that runs it, so prepare and verify with the
target's Python version where one is at hand (prepare_gpu_wheels.sh looks for ``python3.X``).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PINNED = REPO / "requirements" / "pinned.txt"
MANIFEST = "manifest.json"
MMCV_VERSION = "2.1.0"
MMCV_SDIST = f"mmcv-{MMCV_VERSION}.tar.gz"
#: Installed by scripts/setup_env.sh beside the pins (mmcv is built from MMCV_SDIST).
EXTRA_REQUIREMENTS = ["mmdet==3.3.0"]
#: mmcv's setup.py and mmengine's 'mmdet::' config lookup need pkg_resources (setuptools < 81), as in setup_env.sh.
BUILD_REQUIREMENTS = ["setuptools>=77,<81", "wheel", "ninja"]
#: mmcv 2.1.0's install_requires (requirements/runtime.txt of its sdist, plus the opencv it chooses); the built mmcv
#: wheel is installed without dependencies, so the folder must hold these.
MMCV_RUNTIME = ["addict", "mmengine>=0.3.0", "numpy", "packaging", "Pillow", "pyyaml", "yapf", "opencv-python>=3"]
#: The pins the GPU check imports (profile ``check``): the stack, the benchmark, training and evaluation; not the
#: workflow (snakemake and its plugins, jsonschema, pygments) nor the report (pandas).
CHECK_PINS = {
    "numpy",
    "opencv-python",
    "mmengine",
    "pycocotools",
    "scipy",
    "matplotlib",
    "pytest",
    "shapely",
    "terminaltables",
    "addict",
    "yapf",
}
STUB_VERSION = "9999"
PIP_NOISE = "is ignored: it is neither a file nor a dir"


class FolderError(Exception):
    """The wheel folder cannot be used for its target (the message says why)."""


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The project name of a requirement string such as ``'numpy==1.26.4'`` or ``'opencv-python>=3'``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def read_pins(path: Path = PINNED) -> list[str]:
    """The requirement lines of a pip requirements file, comments and blanks dropped."""
    pins = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    return pins


def read_provided(path: str | os.PathLike | None) -> list[dict]:
    """Packages the GPU machine holds: ``[{'name': ..., 'module': ...}]`` from lines ``NAME [MODULE]``.

    ``torch`` is always among them. MODULE is what the GPU check imports to find the package (default: NAME with
    dashes as underscores), e.g. ``opencv-python cv2`` (the machine may hold opencv-python-headless instead).
    """
    entries = {"torch": "torch"}  # never in the folder: the GPU machine's own CUDA build is used
    if path:
        for line in Path(path).read_text().splitlines():
            fields = line.split("#", 1)[0].split()
            if fields:
                entries[canonical(fields[0])] = fields[1] if len(fields) > 1 else fields[0].replace("-", "_")
    return [{"name": name, "module": module} for name, module in entries.items()]


def requirement_set(profile: str, provided: list[dict], pins: list[str] | None = None) -> list[str]:
    """The top-level requirements the folder must satisfy for ``profile`` (``full`` or ``check``)."""
    pins = read_pins() if pins is None else pins
    if profile == "check":
        pins = [p for p in pins if requirement_name(p) in CHECK_PINS]
    elif profile != "full":
        raise ValueError(f"unknown profile {profile!r}: full or check")
    skip = {entry["name"] for entry in provided}
    chosen: dict[str, str] = {}
    for requirement in pins + EXTRA_REQUIREMENTS + BUILD_REQUIREMENTS + MMCV_RUNTIME:
        name = requirement_name(requirement)
        if name not in skip and name not in chosen:  # the pin wins over mmcv's looser requirement
            chosen[name] = requirement
    return list(chosen.values())


def platform_tags(glibc: str = "2.28", machine: str = "x86_64") -> list[str]:
    """manylinux platform tags a machine with glibc ``glibc`` accepts, newest first (pip matches tags exactly)."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2 or minor < 5:
        raise ValueError(f"glibc {glibc}: expected 2.N with N >= 5")
    tags = []
    for n in range(minor, 4, -1):
        tags.append(f"manylinux_2_{n}_{machine}")
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(n)
        if legacy:
            tags.append(f"{legacy}_{machine}")
    return tags


def target_options(target: dict) -> list[str]:
    """pip's options that select wheels for ``target`` (a manifest's ``target``)."""
    version = target["python_version"]
    options = ["--only-binary=:all:", "--python-version", version, "--implementation", "cp"]
    options += ["--abi", "cp" + version.replace(".", "")]
    for tag in target["platforms"]:
        options += ["--platform", tag]
    return options


def pip_command(*args: str, isolated: bool = False) -> list[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    if isolated:
        command.append("--isolated")  # no pip configuration, no PIP_* variables: only what the command says
    return command + list(args)


def isolated_env() -> dict:
    """The environment without pip's configuration (its files and PIP_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return env


def shorten(command: list[str]) -> str:
    """A pip command line for people: the --platform options as one summary."""
    shown, platforms, skip = [], [], False
    for i, arg in enumerate(command):
        if skip:
            skip = False
        elif arg == "--platform":
            platforms.append(command[i + 1])
            skip = True
        else:
            shown.append(arg)
    if platforms:
        shown.append(f"--platform {platforms[0]} (and {len(platforms) - 1} older manylinux tags)")
    return " ".join(shown)


def run(command: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    proc.stdout = "\n".join(line for line in proc.stdout.splitlines() if PIP_NOISE not in line)
    return proc


def write_stub_wheels(folder: Path, provided: list[dict]) -> None:
    """One empty wheel per provided package, version 9999: pip takes the package as present."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in provided:
        dist = entry["name"].replace("-", "_")
        info = f"{dist}-{STUB_VERSION}.dist-info"
        files = {
            f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {entry['name']}\nVersion: {STUB_VERSION}\n"
            "Summary: stand-in for a package the GPU machine provides\n",
            f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gpu_wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
        files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
        with zipfile.ZipFile(folder / f"{dist}-{STUB_VERSION}-py3-none-any.whl", "w") as whl:
            for name, text in files.items():
                whl.writestr(name, text)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(canonical name, version) of a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise FolderError(f"{filename}: not a wheel file name")
    return canonical(parts[0]), parts[1]


def write_manifest(dest: Path, target: dict, profile: str, provided: list[dict], requirements: list[str]) -> dict:
    """Describe the folder's files (size, SHA-256) and what they are for in ``dest/manifest.json``."""
    files = []
    for path in sorted(dest.iterdir()):
        if path.name == MANIFEST or not path.is_file():
            continue
        files.append(dict(name=path.name, size=path.stat().st_size, sha256=sha256(path)))
    manifest = dict(
        format=1,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        made_with=f"Python {sys.version.split()[0]}, pip {pip_version()}",
        target=target,
        profile=profile,
        requirements=requirements,
        provided=provided,
        mmcv_sdist=MMCV_SDIST,
        files=files,
        total_bytes=sum(f["size"] for f in files),
    )
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def pip_version() -> str:
    try:
        from pip import __version__
    except ImportError:
        return "none"
    return __version__


def load_manifest(dest: Path) -> dict:
    path = dest / MANIFEST
    if not path.is_file():
        raise FolderError(f"{path} not found: prepare the folder with scripts/prepare_gpu_wheels.sh")
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise FolderError(f"{path} is not JSON ({err})") from err


def check_files(dest: Path, manifest: dict) -> list[str]:
    """Problems of the folder's files against the manifest (missing, changed, unlisted, duplicate, no mmcv)."""
    problems = []
    listed = {f["name"]: f for f in manifest["files"]}
    for name, entry in listed.items():
        path = dest / name
        if not path.is_file():
            problems.append(f"missing file {name} (listed in {MANIFEST})")
        elif path.stat().st_size != entry["size"] or sha256(path) != entry["sha256"]:
            problems.append(f"{name} differs from the file {MANIFEST} lists (size or SHA-256)")
    present = {p.name for p in dest.iterdir() if p.is_file() and p.name != MANIFEST}
    for name in sorted(present - set(listed)):
        problems.append(f"{name} is not listed in {MANIFEST} (rerun: python scripts/gpu_wheels.py manifest DIR)")
    versions: dict[str, list[str]] = {}
    for name in sorted(present & set(listed)):
        if name.endswith(".whl"):
            project, version = wheel_name_version(name)
            versions.setdefault(project, []).append(version)
    for project, found in versions.items():
        if len(found) > 1:
            problems.append(f"{project}: {len(found)} versions ({', '.join(found)}); keep one (installs use --no-deps)")
    sdist = dest / manifest.get("mmcv_sdist", MMCV_SDIST)
    if not sdist.is_file():
        problems.append(f"missing {sdist.name}: mmcv {MMCV_VERSION} travels as its source archive")
    else:
        try:
            with tarfile.open(sdist) as tar:
                tar.getmember(f"mmcv-{MMCV_VERSION}/setup.py")
        except (tarfile.TarError, KeyError, OSError):
            problems.append(
                f"{sdist.name} is not mmcv {MMCV_VERSION}'s source archive (no mmcv-{MMCV_VERSION}/setup.py)"
            )
    return problems


def resolve(dest: Path, manifest: dict) -> tuple[list[str], list[dict]]:
    """Ask pip to resolve the manifest's requirements from the folder alone, for the manifest's target.

    Returns:
        tuple[list[str], list[dict]]: Problems, and pip's install report items (``[]`` on failure).
    """
    with tempfile.TemporaryDirectory(prefix="gpu_wheels_") as tmp:
        stubs = Path(tmp) / "provided"
        write_stub_wheels(stubs, manifest["provided"])
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(manifest["requirements"]) + "\n")
        report = Path(tmp) / "report.json"
        command = pip_command(
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            str(dest),
            "--find-links",
            str(stubs),
            *target_options(manifest["target"]),
            "--target",
            str(Path(tmp) / "target"),
            "--report",
            str(report),
            "-r",
            str(requirements),
            isolated=True,
        )
        proc = run(command, env=isolated_env())
        if proc.returncode != 0:
            missing = re.findall(r"No matching distribution found for (.+)", proc.stdout)
            target = manifest["target"]
            where = f"Python {target['python_version']} on {target['platforms'][0]} (or older)"
            if missing:
                return [f"no wheel in the folder for {m.strip()} ({where})" for m in missing], []
            tail = "\n".join(proc.stdout.splitlines()[-15:])
            return [f"pip cannot resolve the requirements from the folder for {where}:\n{tail}"], []
        items = json.loads(report.read_text()).get("install", [])
        return [], items


def verify(dest: Path, python_version: str | None = None, quiet: bool = False) -> dict:
    """Check that ``dest`` is complete for its target; print what it holds. Raises FolderError on a problem."""
    manifest = load_manifest(dest)
    target = manifest["target"]
    problems = []
    if python_version and python_version != target["python_version"]:
        problems.append(f"the folder is for Python {target['python_version']}, not {python_version}")
    problems += check_files(dest, manifest)
    resolve_problems, items = resolve(dest, manifest) if not problems else ([], [])
    problems += resolve_problems
    if problems:
        raise FolderError("the wheel folder is not complete:\n" + "\n".join(f"  - {p}" for p in problems))
    stubs = {e["name"] for e in manifest["provided"]}
    resolved = {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items}
    from_folder = sorted(n for n in resolved if n not in stubs)
    assumed = sorted(n for n in resolved if n in stubs)
    if not quiet:
        host = ".".join(map(str, sys.version_info[:2]))
        print(
            f"wheel folder {dest}: profile {manifest['profile']}, Python {target['python_version']} "
            f"({target['platforms'][0]} or older), {len(manifest['files'])} files, "
            f"{manifest['total_bytes'] / 2**20:.1f} MiB"
        )
        print(
            f"  pip resolves all {len(manifest['requirements'])} requirements from the folder alone: "
            f"{len(from_folder)} packages from it, mmcv {MMCV_VERSION} from its source archive"
            + (f", taken as present on the GPU machine: {', '.join(assumed)}" if assumed else "")
        )
        print(f"  provided by the GPU machine (not in the folder): {', '.join(sorted(stubs))}")
        if host != target["python_version"]:
            print(
                f"  note: environment markers were evaluated for this Python ({host}), not {target['python_version']}"
            )
    return manifest


def build_pure_wheel(requirement: str, out: Path) -> Path:
    """Build the wheel of a requirement PyPI has only as source; it must be pure Python (any platform)."""
    before = set(out.glob("*.whl"))
    proc = run(pip_command("wheel", "--no-deps", "--no-binary=:all:", "-w", str(out), requirement))
    if proc.returncode != 0:
        raise FolderError(f"cannot build a wheel of {requirement}:\n{proc.stdout[-3000:]}")
    built = sorted(set(out.glob("*.whl")) - before) or [
        p for p in out.glob("*.whl") if wheel_name_version(p.name)[0] == requirement_name(requirement)
    ]
    if not built:
        raise FolderError(f"pip built no wheel for {requirement}")
    wheel = built[0]
    if not wheel.name.endswith(("-py3-none-any.whl", "-py2.py3-none-any.whl")):
        wheel.unlink()
        raise FolderError(
            f"{requirement} has no wheel for the target on PyPI and is not pure Python ({wheel.name}): "
            "it cannot be prepared on this machine"
        )
    print(f"[gpu_wheels] built {wheel.name} from its source archive (no wheel on PyPI)", flush=True)
    return wheel


def strip_tests(wheel: Path) -> int:
    """Rewrite a wheel without its packages' ``tests`` folders (and their RECORD lines); return the bytes saved.

    The check profile's folder must travel with the repository to a GPU machine (64 MiB for a device call here);
    numpy's and scipy's own test suites are about a tenth of their wheels (5.7 MiB) and nothing of the check
    imports them.

    Args:
        wheel (Path): The wheel to rewrite in place.

    Returns:
        int: How many bytes the wheel lost.
    """

    def is_test(name: str) -> bool:
        return "/tests/" in f"/{name}"

    before = wheel.stat().st_size
    tmp = wheel.with_suffix(".stripping")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if is_test(info.filename):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if not is_test(line.split(",", 1)[0])).encode()
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(wheel)
    return before - wheel.stat().st_size


def prepare(args) -> int:
    dest = Path(args.dest)
    if dest.exists() and any(dest.iterdir()):
        if not args.force:
            raise FolderError(f"{dest} is not empty: give --force to replace its contents, or another folder")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    provided = read_provided(args.provided)
    requirements = requirement_set(args.profile, provided)
    target = dict(python_version=args.python_version, implementation="cp", platforms=platform_tags(args.glibc))
    with tempfile.TemporaryDirectory(prefix="gpu_wheels_") as tmp:
        stubs, built = Path(tmp) / "provided", Path(tmp) / "built"
        write_stub_wheels(stubs, provided)
        built.mkdir()
        req_file = Path(tmp) / "requirements.txt"
        req_file.write_text("\n".join(requirements) + "\n")
        for attempt in range(20):
            command = pip_command(
                "download",
                *target_options(target),
                "--find-links",
                str(stubs),
                "--find-links",
                str(built),
                "-d",
                str(dest),
                "-r",
                str(req_file),
            )
            print(f"[gpu_wheels] {shorten(command[2:])}", flush=True)
            proc = run(command)
            if proc.returncode == 0:
                break
            missing = re.search(r"No matching distribution found for (\S+)", proc.stdout)
            if not missing or attempt == 19:
                raise FolderError(f"pip download failed:\n{proc.stdout[-4000:]}")
            build_pure_wheel(missing.group(1), built)
        stub_names = {p.name for p in stubs.iterdir()}
        for path in dest.iterdir():
            if path.name in stub_names:
                path.unlink()
        # mmcv's setup.py imports pkg_resources while pip reads its metadata: setuptools < 81 in the build env
        constraint = Path(tmp) / "build-constraints.txt"
        constraint.write_text("setuptools<81\n")
        env = dict(os.environ, PIP_CONSTRAINT=str(constraint))
        proc = run(
            pip_command("download", "--no-binary=:all:", "--no-deps", "-d", str(dest), f"mmcv=={MMCV_VERSION}"),
            env=env,
        )
        if proc.returncode != 0 or not (dest / MMCV_SDIST).is_file():
            raise FolderError(f"cannot download mmcv {MMCV_VERSION}'s source archive:\n{proc.stdout[-4000:]}")
    if args.profile == "check":
        for wheel in sorted(dest.glob("*.whl")):
            saved = strip_tests(wheel)
            if saved > 2**20:
                print(f"[gpu_wheels] {wheel.name}: its tests left out ({saved / 2**20:.1f} MiB less)")
    manifest = write_manifest(dest, target, args.profile, provided, requirements)
    for entry in sorted(manifest["files"], key=lambda f: -f["size"]):
        print(f"  {entry['size'] / 2**20:8.2f} MiB  {entry['name']}")
    print(
        f"[gpu_wheels] {len(manifest['files'])} files, {manifest['total_bytes'] / 2**20:.1f} MiB in {dest} "
        f"(manifest: {dest / MANIFEST})"
    )
    verify(dest)
    return 0


def provided_check(dest: Path) -> int:
    """On the GPU machine: import every package the folder leaves out; print where each comes from."""
    import importlib
    from importlib import metadata

    manifest = load_manifest(dest)
    missing = []
    for entry in manifest["provided"]:
        try:
            module = importlib.import_module(entry["module"])
        except Exception as err:  # noqa: BLE001 - any import failure means the package is not usable
            missing.append(f"{entry['name']} (import {entry['module']}: {type(err).__name__}: {err})")
            continue
        try:
            version = metadata.version(entry["name"])
        except metadata.PackageNotFoundError:
            version = getattr(module, "__version__", "?")
        print(f"  provided: {entry['name']} {version} ({entry['module']} from {Path(module.__file__).parent})")
    if missing:
        print(
            "the wheel folder leaves these packages to the GPU machine, which cannot import them:\n"
            + "\n".join(f"  - {m}" for m in missing),
            file=sys.stderr,
        )
        return 1
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def target_arguments(p):
        p.add_argument("--python-version", default="3.12", help="the GPU machine's Python (default 3.12)")
        p.add_argument("--glibc", default="2.28", help="newest manylinux glibc the GPU machine accepts (default 2.28)")
        p.add_argument(
            "--profile",
            choices=["full", "check"],
            default="full",
            help="full: every pin; check: the pins the GPU check imports, their wheels without their test suites",
        )
        p.add_argument("--provided", help="file of packages the GPU machine already holds (NAME [MODULE] lines)")

    p = sub.add_parser("prepare", help="download the folder (needs PyPI)")
    p.add_argument("dest")
    target_arguments(p)
    p.add_argument("--force", action="store_true", help="replace the contents of a non-empty DEST")
    p = sub.add_parser("manifest", help="rewrite DEST/manifest.json from the files in DEST")
    p.add_argument("dest")
    target_arguments(p)
    p = sub.add_parser("verify", help="check that DEST is complete for its target")
    p.add_argument("dest")
    p.add_argument("--python-version", help="fail unless the folder is for this Python")
    p = sub.add_parser("provided", help="import the packages DEST leaves to the GPU machine")
    p.add_argument("dest")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "prepare":
            return prepare(args)
        if args.command == "manifest":
            dest = Path(args.dest)
            provided = read_provided(args.provided)
            target = dict(python_version=args.python_version, implementation="cp", platforms=platform_tags(args.glibc))
            manifest = write_manifest(dest, target, args.profile, provided, requirement_set(args.profile, provided))
            print(f"[gpu_wheels] {dest / MANIFEST}: {len(manifest['files'])} files")
            return 0
        if args.command == "verify":
            verify(Path(args.dest), args.python_version)
            return 0
        return provided_check(Path(args.dest))
    except FolderError as err:
        print(f"[gpu_wheels] ERROR: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
