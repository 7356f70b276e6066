"""The project-local PostgreSQL + PostGIS cluster under var/pg (``citygrid db up|down|status``)."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LOGGER = logging.getLogger(__name__)

POSTGIS_PACKAGE = "postgresql-{major}-postgis-3"


class ClusterError(RuntimeError):
    """The local cluster cannot be brought up; the message says what to do."""


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster kept in ``root`` and listening on 127.0.0.1:``port``."""

    root: Path
    port: int

    @property
    def datadir(self) -> Path:
        """Data directory (PGDATA)."""
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        """Unix socket directory, kept inside the project."""
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        """Server log."""
        return self.root / "postgres.log"

    # -- discovery -------------------------------------------------------------------------

    def bindir(self) -> Path:
        """Directory of the newest installed PostgreSQL server binaries."""
        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"),
            key=lambda p: int(Path(p).parent.parent.name),
        )
        if found:
            return Path(found[-1]).parent
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidate = Path(out.stdout.strip())
            if (candidate / "initdb").exists():
                return candidate
        raise ClusterError(
            "PostgreSQL server binaries not found. Install them with:\n"
            "  sudo apt-get install postgresql postgresql-15-postgis-3\n"
            "or set DATABASE_URL to a PostgreSQL server that has PostGIS."
        )

    def major(self) -> int:
        """Major version of the server binaries."""
        return int(self.bindir().parent.name)

    def has_postgis(self) -> bool:
        """Whether the PostGIS extension files are installed for this server version."""
        return bool(glob.glob(f"/usr/share/postgresql/{self.major()}/extension/postgis.control"))

    def ensure_postgis(self, allow_install: bool = True) -> None:
        """Install Debian's PostGIS package when missing and we are allowed to (root)."""
        if self.has_postgis():
            return
        package = POSTGIS_PACKAGE.format(major=self.major())
        if allow_install and os.geteuid() == 0 and shutil.which("apt-get"):
            LOGGER.warning("PostGIS is missing; installing %s", package)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", package], env=env, check=False
            )
            if done.returncode == 0 and self.has_postgis():
                return
        raise ClusterError(
            f"PostGIS is not installed for PostgreSQL {self.major()}. Install it with:\n"
            f"  sudo apt-get install {package}\n"
            "then run `citygrid db up` again."
        )

    # -- the OS user that owns the cluster -----------------------------------------------

    def owner(self) -> str | None:
        """OS user to run the server as, or None to run as ourselves (not root)."""
        if os.geteuid() != 0:
            return None
        # PostgreSQL refuses to run as root; Debian's server package creates `postgres`.
        for name in ("postgres", "citygrid"):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "citygrid"],
            check=True,
        )
        return "citygrid"

    def _run(self, args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        owner = self.owner()
        if owner:
            args = ["runuser", "-u", owner, "--", *args]
        return subprocess.run(args, check=check, capture_output=True, text=True, **kw)

    # -- lifecycle ---------------------------------------------------------------------------

    def port_answers(self) -> bool:
        """Whether some PostgreSQL server accepts connections on our port."""
        done = subprocess.run(
            [str(self.bindir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return done.returncode == 0

    def is_running(self) -> bool:
        """Whether *this* cluster (not another server on the same port) is up and answering."""
        try:
            # postmaster.pid line 4 is the port the server listens on.
            pid_lines = (self.datadir / "postmaster.pid").read_text().splitlines()
            if int(pid_lines[3]) != self.port:
                return False
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return False
        done = self._run([str(self.bindir() / "pg_ctl"), "-D", str(self.datadir), "status"], check=False)
        return done.returncode == 0 and self.port_answers()

    def init(self) -> bool:
        """Create the cluster when it does not exist yet; True when it was created."""
        if (self.datadir / "PG_VERSION").exists():
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(parents=True, exist_ok=True)
        owner = self.owner()
        if owner:
            shutil.chown(self.root, owner)
            shutil.chown(self.sockdir, owner)
            self._make_traversable(self.root, owner)
        done = self._run(
            [
                str(self.bindir() / "initdb"),
                "-D", str(self.datadir),
                "-U", "postgres",
                "--auth-local=trust",
                "--auth-host=trust",
                "-E", "UTF8",
                "--locale=C.UTF-8",
            ],
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        # Loopback only: the cluster is a development and test server.
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# citygrid local cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 256MB\nmax_connections = 200\n"
            )
        return True

    def _make_traversable(self, path: Path, owner: str) -> None:
        """Let the server's OS user reach var/pg through the checkout's parent folders."""
        for parent in list(path.parents)[:-1]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.is_running():
            return
        if self.port_answers():
            raise ClusterError(
                f"another PostgreSQL server already listens on 127.0.0.1:{self.port}; "
                "set CITYGRID_PG_PORT to a free port (or DATABASE_URL to use that server)"
            )
        done = self._run(
            [
                str(self.bindir() / "pg_ctl"),
                "-D", str(self.datadir),
                "-l", str(self.logfile),
                "-w", "-t", "60",
                "-o", f"-p {self.port}",
                "start",
            ],
            check=False,
        )
        if done.returncode != 0:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise ClusterError(
                f"could not start PostgreSQL on port {self.port}:\n{done.stderr}\n{tail}"
            )
        for _ in range(60):
            if self.port_answers():
                return
            time.sleep(0.5)
        raise ClusterError(f"PostgreSQL did not answer on port {self.port}")

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        if not (self.datadir / "PG_VERSION").exists():
            return
        self._run(
            [str(self.bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            check=False,
        )

    def status(self) -> str:
        """One line describing the cluster."""
        if not (self.datadir / "PG_VERSION").exists():
            return f"no local cluster in {self.datadir}"
        state = "running" if self.is_running() else "stopped"
        return f"local cluster {self.datadir}: {state} on 127.0.0.1:{self.port}"

    def up(self, allow_install: bool = True) -> None:
        """Install PostGIS if needed, create and start the cluster."""
        self.bindir()
        self.ensure_postgis(allow_install)
        self.init()
        self.start()
