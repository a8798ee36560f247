"""Connecting to Ray and placing workers by the ``cluster`` config."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Optional

import ray

from raygen.errors import RunError
from raygen.state.stop import POLL_S, check_stop

log = logging.getLogger("raygen")


def probe_address(address: str, timeout: float = 10.0) -> None:
    """Fail fast (RunError naming the key) when nothing listens at ``host:port``:
    ``ray.init`` itself keeps retrying for minutes. ``auto`` is left to Ray, which
    answers at once when no cluster runs on this node."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host:
        host, port = hostport, "6379"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as err:
        raise RunError(f"cluster.address={address}: nothing answers at {host}:{port} "
                       f"({err.strerror if isinstance(err, OSError) and err.strerror else err}); "
                       "start the Ray head there (`ray start --head`), or leave "
                       "cluster.address null to run on this machine") from None


def auth_token_path() -> Path:
    """Where Ray reads its authentication token: ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def private_auth_token(create: bool) -> None:
    """Ray's token authentication with a token only this user can read.

    Ray 2.60 writes ``~/.ray/auth_token`` with the default umask (readable by every
    user of a shared machine, who could then connect and run code as this user) and
    warns about token mode on every start. Here: a token given in ``RAY_AUTH_TOKEN``
    is left alone; a token file readable by others is made private (0600); one owned
    by another user is refused; with ``create`` (a local Ray about to start) a missing
    one is created 0600 first. For that local Ray, token mode is then set explicitly
    (``RAY_AUTH_MODE``), unless the user chose a mode themselves.

    Connecting to ``cluster.address`` never turns token mode on (as Ray's own
    ``ray.init(address=...)``): the cluster's mode is whatever its head was started
    with, and a driver in token mode on a cluster without it cannot be called back by
    the GCS — every actor it starts is destroyed before it runs ("all references to
    the actor were removed"). Batch scripts export ``RAY_AUTH_MODE=token`` for the
    whole job; a user of another token cluster sets it too."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled" or \
            os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = auth_token_path()
    if path.exists():
        st = path.stat()
        if st.st_uid != os.getuid():
            raise RunError(f"{path}: Ray's authentication token is owned by another user "
                           f"(uid {st.st_uid}); use your own (remove it, or set "
                           "RAY_AUTH_TOKEN_PATH)")
        if st.st_mode & 0o077:
            path.chmod(0o600)
            log.warning("%s was readable by other users; made it private (0600)", path)
    elif create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    if create and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        # Ray reads its config when imported: refresh it, as Ray's own token set-up does
        # (ray._private.authentication.authentication_token_setup._enable_token_auth)
        from ray._raylet import Config

        Config.initialize("")


@contextlib.contextmanager
def _own_sigterm_handler():
    """Keep raygen's SIGTERM handler (a flag) while ``ray.init`` runs. Ray replaces it
    with one that calls ``sys.exit`` wherever the signal lands — inside ray.init that
    left a half-started core worker that crashed the process at exit (SIGSEGV/SIGABRT
    instead of a clean stop). Ray's hook (``ray._private.utils.set_sigterm_handler``)
    is skipped for that call only; where it is missing, nothing is changed."""
    import ray._private.utils as ray_utils

    keep = getattr(ray_utils, "set_sigterm_handler", None)
    if keep is not None and signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        ray_utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        if keep is not None:
            ray_utils.set_sigterm_handler = keep


def local_ray_dir(workdir) -> Path:
    """The temp dir of the local Ray a run starts: one per run directory (short, for
    Ray's socket paths), so that what a killed driver left behind is recognisable as
    this run's, and nobody else's."""
    digest = hashlib.sha256(str(Path(workdir).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"raygen_{digest}"


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _uses(pid: str, pattern: re.Pattern) -> bool:
    """Whether process ``pid`` names the directory in its command line, or holds a
    file open below it (Ray's agents retitle themselves ``ray::DashboardAgent``, but
    keep their session's log files open)."""
    if pattern.search(_cmdline(pid)):
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if pattern.search(os.readlink(f"/proc/{pid}/fd/{fd}")):
                return True
        except OSError:
            continue
    return False


def end_leftovers(ray_dir: Path) -> list[int]:
    """End the processes of an earlier local Ray of this run (a driver killed with
    ``kill -9`` leaves Ray's dashboard and runtime-env agents running, ~180 MB, deaf to
    SIGTERM): those of this user that name ``ray_dir`` or hold files below it. Their
    pids. Another run's Ray (its own dir) is never touched."""
    if not Path("/proc").is_dir():
        return []
    pattern = re.compile(re.escape(str(ray_dir)) + r"(/|\s|$)")
    me, mine = os.getpid(), os.getuid()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == me:
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != mine:
                continue
        except OSError:
            continue
        if _uses(pid, pattern):
            found.append(int(pid))
    for pid in found:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if found:
        log.warning("ended %d process(es) an earlier run of this directory left behind "
                    "(its local Ray, %s)", len(found), ray_dir)
    return found


def connect(cluster, workdir=None) -> bool:
    """Connect to ``cluster.address`` or start a local Ray (for run directory
    ``workdir``: in its own temp dir, after ending what an earlier, killed start of
    it left behind); True if we started it."""
    if ray.is_initialized():
        return False
    private_auth_token(create=not cluster.address)
    if cluster.address:
        probe_address(str(cluster.address))
    check_stop()
    try:
        with _own_sigterm_handler():
            if cluster.address:
                ray.init(address=cluster.address, log_to_driver=False)
            else:
                extra = {}
                if workdir is not None:
                    ray_dir = local_ray_dir(workdir)
                    end_leftovers(ray_dir)  # the run's lock is held: none is alive
                    extra["_temp_dir"] = str(ray_dir)
                ray.init(num_cpus=cluster.num_cpus, num_gpus=cluster.num_gpus,
                         include_dashboard=False, log_to_driver=False, **extra)
        if cluster.address:
            log.info("connected to Ray cluster at %s: %s", cluster.address,
                     ray.cluster_resources())
            return True
    except SystemExit as err:  # Ray's own SIGTERM handler after all: stop cleanly
        with contextlib.suppress(Exception):
            ray.shutdown()
        raise KeyboardInterrupt(f"signal {err.code} while Ray started") from None
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        where = f"cluster.address={cluster.address}" if cluster.address else "a local Ray"
        raise RunError(f"cannot start or reach {where}: {str(err).splitlines()[0]}; "
                       "check that a Ray cluster runs there (`ray status`) or leave "
                       "cluster.address null for a local one") from err
    log.info("started a local Ray instance: %s", ray.cluster_resources())
    return True


def _sees(path: str) -> tuple[bool, str]:
    return os.path.exists(path), socket.gethostname()


def nodes_missing(path: str) -> list[str]:
    """Hosts of the cluster's live nodes on which ``path`` does not exist (one
    zero-CPU task pinned to each node)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0)(_sees)
    refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(path) for n in ray.nodes() if n["Alive"]]
    return sorted({host for ok, host in get(refs) if not ok})


def check_shared_workdir(root) -> None:
    """Every node must see the run directory at the same path (workers read and
    write it): a probe file written here is looked for on each node."""
    probe = os.path.join(str(root), f".raygen-probe-{os.getpid()}")
    with open(probe, "w") as fh:
        fh.write("raygen\n")
    try:
        missing = nodes_missing(probe)
    finally:
        os.unlink(probe)
    if missing:
        raise RunError(f"workdir {root} is not visible on {', '.join(missing)}: put the run "
                       "directory on a filesystem every node mounts at the same path "
                       "(workdir=/shared/...)")


def ray_options(res) -> dict[str, Any]:
    """Ray options of one worker of ``res`` (a ``WorkerResources``): CPUs, GPUs
    (``num_gpus=1`` pins a GPU), custom resources and the node labels it needs."""
    opts: dict[str, Any] = {"num_cpus": res.num_cpus, "num_gpus": res.num_gpus}
    if getattr(res, "resources", None):
        opts["resources"] = {str(k): float(v) for k, v in dict(res.resources).items()}
    if getattr(res, "label_selector", None):
        opts["label_selector"] = {str(k): str(v) for k, v in dict(res.label_selector).items()}
    return opts


def actor_options(res) -> dict[str, Any]:
    """:func:`ray_options` of a long-lived worker: a crashed actor is restarted once
    and its in-flight call retried."""
    return {**ray_options(res), "max_restarts": 1, "max_task_retries": 1}


def requirements(res) -> list[tuple[str, str, Callable[[dict], bool]]]:
    """Each requirement of ``res`` on a node: (key under ``cluster.<kind>``, its
    value as written, a test on a ``ray.nodes()`` entry)."""
    def has(name, amount):
        return lambda node: node.get("Resources", {}).get(name, 0.0) + 1e-9 >= amount

    reqs = [("num_cpus", f"{res.num_cpus:g}", has("CPU", float(res.num_cpus))),
            ("num_gpus", f"{res.num_gpus:g}", has("GPU", float(res.num_gpus)))]
    reqs += [(f"resources.{k}", f"{float(v):g}", has(str(k), float(v)))
             for k, v in dict(getattr(res, "resources", None) or {}).items()]
    reqs += [(f"label_selector.{k}", str(v),
              lambda node, k=str(k), v=str(v): node.get("Labels", {}).get(k) == v)
             for k, v in dict(getattr(res, "label_selector", None) or {}).items()]
    return [r for r in reqs if r[0] not in ("num_cpus", "num_gpus") or float(r[1]) > 0]


def infeasible(res, nodes: list[dict]) -> Optional[str]:
    """Why no node of ``nodes`` can host one worker of ``res`` (None if one can):
    the first requirement no node meets, or the combination."""
    reqs = requirements(res)
    if any(all(test(n) for _, _, test in reqs) for n in nodes):
        return None
    for key, value, test in reqs:
        if not any(test(n) for n in nodes):
            return f"{key}={value}: no node has it"
    return ("no single node has all of " + ", ".join(f"{k}={v}" for k, v, _ in reqs))


def check_feasible(cluster) -> None:
    """Fail fast when a kind of worker can never be scheduled on the cluster as it
    is (GPUs asked for on a CPU-only cluster, a node label no node carries), naming
    the config key, instead of waiting forever. Skipped with
    ``cluster.autoscaling`` (nodes may join later)."""
    from raygen.config.schema import WORKER_KINDS

    if cluster.autoscaling:
        return
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    problems = []
    for kind in WORKER_KINDS:
        why = infeasible(getattr(cluster, kind), nodes)
        if why:
            problems.append(f"cluster.{kind}.{why}")
    if problems:
        have = "; ".join(
            ", ".join([f"{k}={v:g}" for k, v in sorted(n.get("Resources", {}).items())
                       if k in ("CPU", "GPU") or not k.startswith(("node:", "memory",
                                                                   "object_store"))]
                      + [f"{k}={v}" for k, v in sorted(n.get("Labels", {}).items())
                         if not k.startswith("ray.io/")])
            for n in nodes)
        raise RunError("the Ray cluster can never run part of this run:\n  "
                       + "\n  ".join(problems) + f"\nits nodes: {have or 'none'}\n"
                       "Change those keys, add such nodes, or set cluster.autoscaling=true "
                       "if nodes join on demand.")


def fits_together(workers: Iterable[tuple[Any, int]]) -> bool:
    """Whether ``count`` workers of each resource spec fit on the cluster at once
    (by its total CPUs and GPUs)."""
    total = ray.cluster_resources()
    cpus = sum(res.num_cpus * n for res, n in workers)
    gpus = sum(res.num_gpus * n for res, n in workers)
    return cpus <= total.get("CPU", 0) + 1e-9 and gpus <= total.get("GPU", 0) + 1e-9


def wait_one(refs: list, describe: Optional[Callable[[], str]] = None,
             stall_s: Optional[float] = None) -> ray.ObjectRef:
    """The first of ``refs`` to finish (interruptible). When nothing finishes for
    ``stall_s`` seconds, say so in the log with what is waiting (``describe()``) and
    the cluster's free resources, and again every ``stall_s``."""
    last = time.monotonic()
    while True:
        check_stop()
        done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
        if done:
            return done[0]
        if stall_s and time.monotonic() - last > stall_s:
            last = time.monotonic()
            log.warning("no progress for %.0f s: %s; free resources: %s", stall_s,
                        describe() if describe else f"{len(refs)} results awaited",
                        {k: v for k, v in ray.available_resources().items()
                         if k in ("CPU", "GPU")})


def get(refs):
    """``ray.get`` that lets signal handlers run while it waits."""
    many = isinstance(refs, list)
    pending = list(refs) if many else [refs]
    while pending:
        check_stop()
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
    return ray.get(refs)


def bounded(submit: Callable[[Any], ray.ObjectRef], items: Iterable[Any],
            max_in_flight: int) -> Iterator[tuple[Any, Any]]:
    """Submit ``submit(item)`` with at most ``max_in_flight`` running; yield
    (item, result) as each finishes (completion order)."""
    pending: dict[ray.ObjectRef, Any] = {}
    todo = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(pending) < max_in_flight:
            try:
                item = next(todo)
            except StopIteration:
                exhausted = True
                break
            pending[submit(item)] = item
        if not pending:
            return
        ref = wait_one(list(pending))
        item = pending.pop(ref)
        yield item, ray.get(ref)


def placement_info() -> dict[str, Any]:
    """Where the calling worker runs: node, process, the GPUs Ray gave it."""
    ctx = ray.get_runtime_context()
    return {"node_id": ctx.get_node_id(), "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def kill_all(actors: Iterable[Any]) -> None:
    for a in actors:
        ray.kill(a, no_restart=True)
