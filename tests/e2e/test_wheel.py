"""The wheel alone carries mitmtape: built from the project, installed into a fresh venv outside
the checkout, it records through `mitmtape proxy` and serves the web page from its own files."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.launch import launched_proxy, process_command_line, recorded_paths
from tests.e2e.mitmdump import REPO, wait_for_port
from tests.e2e.servers import http_server
from tests.ports import free_port

pytestmark = pytest.mark.e2e

# What the build reads: the project file, the readme it names and the package's folder.
SOURCES = ("pyproject.toml", "README.md", "addon")
LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
# Appended to the installed page template and script, so the answers prove they came from there.
MARK = "installed-from-the-wheel"
STEP_TIMEOUT = 120


@dataclass(frozen=True)
class Install:
    venv: Path
    package: Path  # the installed `mitmtape` folder

    @property
    def mitmtape(self) -> str:
        return str(self.venv / "bin" / "mitmtape")


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(folder: Path) -> Path:
    """From a copy of the sources, so the build's own `build/` and `*.egg-info` stay out of the
    checkout; without build isolation, so nothing is downloaded."""
    source = folder / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=LEFTOVERS)
        else:
            shutil.copy2(REPO / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    run(*pip_wheel, "--no-build-isolation", "--no-index", "-w", folder / "dist", source, cwd=folder)
    [wheel] = (folder / "dist").glob("mitmtape-*.whl")
    return wheel


def install(wheel: Path, folder: Path) -> Install:
    """The wheel alone into a venv of its own. Its dependencies are this venv's, reached through
    a `.pth` line: a directory named there is put on `sys.path` after the venv's own, and its
    `.pth` files (the checkout's editable install among them) are not read."""
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=folder)
    python = venv / "bin" / "python"
    pip_install = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    run(*pip_install, "--no-deps", "--no-index", wheel, cwd=folder)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(run(python, "-c", where, cwd=folder).strip())
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    found = run(python, "-P", "-c", "import mitmtape; print(mitmtape.__file__)", cwd=folder)
    return Install(venv, Path(found.strip()).parent)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    folder = tmp_path_factory.mktemp("wheel")
    return install(build_wheel(folder), folder)


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder outside the checkout and no PYTHONPATH that could reach it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    yield tmp_path


def test_the_package_is_the_installed_one(installed: Install) -> None:
    assert installed.package.is_relative_to(installed.venv)
    assert not installed.package.is_relative_to(REPO)
    for part in ("script/tape.py", "web/templates/index.html.j2", "web/static/main.js"):
        assert (installed.package / part).is_file(), part
    assert list((installed.package / "export" / "report" / "templates").glob("*.j2"))


def test_mitmtape_proxy_from_the_install_records(installed: Install, outside: Path) -> None:
    proxy = launched_proxy(outside, installed.mitmtape, "--set", "tape_session=installed")
    with http_server() as upstream:
        proxy.start()
        try:
            started = process_command_line(proxy.process.pid)
            assert started[0] == str(installed.venv / "bin" / "python")
            assert str(installed.package / "script" / "tape.py") in started
            with httpx.Client(proxy=proxy.proxy, timeout=10) as client:
                assert client.get(f"http://127.0.0.1:{upstream}/from-a-wheel").status_code == 200
            assert proxy.stop() == 0
        finally:
            proxy.kill()
    assert recorded_paths(proxy.db, "installed") == ["/from-a-wheel"]


def page_script(page: str) -> str:
    """The address of the module script the page loads (under its files' fingerprint)."""
    found = re.search(r'<script type="module" src="([^"]+)">', page)
    assert found is not None, "the page loads no module script"
    return found.group(1)


def mark_installed_page(package: Path) -> None:
    with (package / "web" / "templates" / "index.html.j2").open("a", encoding="utf-8") as page:
        page.write(f"<!-- {MARK} -->\n")
    with (package / "web" / "static" / "main.js").open("a", encoding="utf-8") as script:
        script.write(f"// {MARK}\n")


def test_the_web_page_comes_from_the_install(installed: Install, outside: Path) -> None:
    mark_installed_page(installed.package)
    port, token = free_port(), "wheel-token"
    command = [installed.mitmtape, "--db", str(outside / "tape.db"), "serve", "--port", str(port)]
    with (outside / "serve.log").open("wb") as log:
        server = subprocess.Popen([*command, "--token", token], stdout=log, stderr=log)
    try:
        wait_for_port(port, STEP_TIMEOUT, server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            page = client.get("/", params={"token": token}, follow_redirects=True)
            assert page.status_code == 200
            assert f"<!-- {MARK} -->" in page.text
            script = client.get(page_script(page.text))
            assert script.status_code == 200
            assert script.text.endswith(f"// {MARK}\n")
        server.send_signal(signal.SIGINT)
        assert server.wait(STEP_TIMEOUT) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(STEP_TIMEOUT)
