"""Snakemake executor plugin for Ray: every job becomes one Ray task, placed by its resources.

Snakemake finds this plugin by its module name (``snakemake_executor_plugin_<name>``, found with
``pkgutil.iter_modules``), so ``--executor ray`` works once the distribution is installed in the
environment that runs ``snakemake``. See the README next to pyproject.toml.
"""

# No `from __future__ import annotations` here: Snakemake builds CLI options from the settings
# dataclass field types, which must be real types, not strings.
import asyncio
import os
import shlex
import uuid
from dataclasses import dataclass, field
from typing import AsyncGenerator, Iterable, List, Optional

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface
from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase

from . import task as _task
from .resources import GPU_MODEL_STYLES, ResourceRequestError, infeasibility, request_for

__all__ = ["Executor", "ExecutorSettings", "common_settings"]


@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    address: Optional[str] = field(
        default="auto",
        metadata={
            "help": "Ray cluster to connect to: 'auto' (RAY_ADDRESS, else a cluster started with "
            "`ray start` on this machine, else a new local Ray instance), 'local' (always a new "
            "local instance), or an explicit head address host:port (ray://host:10001 needs ray[client]).",
            "env_var": True,
            "required": False,
        },
    )
    gpu_model_resource: str = field(
        default="gpu_model",
        metadata={
            "help": "How a job's gpu_model resource is matched to nodes: 'gpu_model' asks for the "
            "custom resource gpu_model:<type> (one unit per GPU; declare it on each worker with "
            "ray start --resources='{\"gpu_model:<type>\": <n>}'); 'accelerator_type' asks for Ray's "
            "auto-detected accelerator_type:<type> label.",
            "choices": list(GPU_MODEL_STYLES),
            "required": False,
        },
    )
    local_cpu_rules: bool = field(
        default=False,
        metadata={
            "help": "Run rules that declare no gpu resource on this machine (as if listed in "
            "`localrules:`) and send only GPU rules to Ray.",
            "required": False,
        },
    )
    skip_resource_check: bool = field(
        default=False,
        metadata={
            "help": "Submit jobs even if no current node could run them (for autoscaling clusters "
            "that add nodes on demand). By default such jobs fail at once with an explanation.",
            "required": False,
        },
    )
    cancel_grace_seconds: int = field(
        default=10,
        metadata={
            "help": "On cancellation, seconds a job gets after SIGTERM before it is killed.",
            "required": False,
        },
    )
    log_tail_lines: int = field(
        default=40,
        metadata={
            "help": "Lines of a failed job's output (and of its log files) shown in the error report.",
            "required": False,
        },
    )


common_settings = CommonSettings(
    non_local_exec=True,
    implies_no_shared_fs=False,  # tasks run in the workflow directory, which must be shared
    job_deploy_sources=False,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    pass_envvar_declarations_to_cmd=True,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=0,
)

# Upper bound on one blocking ray.wait in the status loop: short enough that shutdown and
# cancellation are prompt, long enough that an idle loop costs nothing.
_MAX_WAIT_SECONDS = 1.0
_IDLE_SLEEP_SECONDS = 0.2


class Executor(RemoteExecutor):
    # RemoteExecutor starts the status thread before __post_init__ runs, so whatever
    # check_active_jobs and sleep read must exist as class attributes already.
    _cancelling = False
    _head_address = "<head>:6379"
    _local_instance = False  # True when no cluster was found and we started a local Ray

    def __post_init__(self):
        import ray

        self._ray = ray
        self.settings: ExecutorSettings = self.workflow.executor_settings or ExecutorSettings()
        self._connected = False
        # Ship task.py by value so that worker nodes need Ray but not this plugin.
        ray.cloudpickle.register_pickle_by_value(_task)
        self._remote_run = ray.remote(max_retries=0, retry_exceptions=False)(_task.run_job)
        self._nodes: list = []
        # Every submitted, unfinished task. RemoteExecutor.active_jobs is empty while a status
        # round is in progress, so cancel_jobs() must not rely on it alone.
        self._running: dict = {}
        self.log_dir = os.path.join(os.path.abspath(self.workflow.workdir_init), ".snakemake", "ray_logs")
        if self.settings.local_cpu_rules:
            self._run_cpu_rules_locally()

    # -- connection -------------------------------------------------------------------------
    def _connect(self):
        """Connect on first submission, so that runs with nothing to do never touch Ray."""
        if self._connected:
            return
        self._connected = True
        ray = self._ray
        address = (self.settings.address or "auto").strip()
        if address == "auto" and os.environ.get("RAY_ADDRESS"):
            # An address the user set explicitly: connect to it or fail, never fall back.
            address = os.environ["RAY_ADDRESS"]
        kwargs = dict(log_to_driver=False, logging_level="WARNING", configure_logging=True)
        if ray.is_initialized():
            return
        if address == "local":
            ray.init(**kwargs)
        elif address == "auto":
            try:
                ray.init(address="auto", **kwargs)
            except ConnectionError:
                self.logger.warning(
                    "Ray executor: no running Ray cluster found (RAY_ADDRESS unset and no "
                    "`ray start` on this machine); starting a local Ray instance with this "
                    "machine's CPUs and GPUs. See --ray-address."
                )
                ray.init(**kwargs)
                self._local_instance = True
        else:
            try:
                ray.init(address=address, **kwargs)
            except Exception as e:
                raise WorkflowError(
                    f"Ray executor: cannot connect to the Ray cluster at {address!r} "
                    f"(--ray-address or RAY_ADDRESS): {e}. Is `ray start --head` running there? "
                    "Check with `ray status --address=<head>:6379`.",
                    e,
                )
        resources = ray.cluster_resources()
        try:
            self._head_address = ray.get_runtime_context().gcs_address
        except Exception:  # Ray Client (ray://) drivers have no GCS address of their own
            self._head_address = address
        self.logger.info(
            f"Ray executor: connected to {self._head_address} with "
            f"{len([n for n in ray.nodes() if n.get('Alive')])} node(s), "
            f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"
        )

    def _run_cpu_rules_locally(self):
        """Mark every rule without a gpu resource as a local rule.

        Uses Workflow.rules and Workflow.localrules(), the methods behind the `localrules:`
        directive; job.is_local is evaluated per scheduling round, after this runs.
        """
        rules = getattr(self.workflow, "rules", None)
        mark_local = getattr(self.workflow, "localrules", None)
        if rules is None or not callable(mark_local):
            self.logger.warning(
                "Ray executor: --ray-local-cpu-rules is not supported by this Snakemake "
                "version; all rules go to Ray."
            )
            return
        cpu_rules = [
            rule.name for rule in rules if getattr(rule, "group", None) is None and not _declares_gpu(rule)
        ]
        if cpu_rules:
            mark_local(*cpu_rules)
            self.logger.info(
                f"Ray executor: running {len(cpu_rules)} CPU rule(s) locally: " + ", ".join(sorted(cpu_rules))
            )

    # -- submission -------------------------------------------------------------------------
    def run_jobs(self, jobs: List[JobExecutorInterface]):
        if not jobs:
            return
        self._connect()
        # One cluster snapshot per scheduling round, shared by the round's feasibility checks.
        if not self.settings.skip_resource_check:
            self._nodes = self._ray.nodes()
        super().run_jobs(jobs)

    def run_job(self, job: JobExecutorInterface):
        job_info = SubmittedJobInfo(job=job)
        try:
            request = request_for(job.resources, job.threads, self.settings.gpu_model_resource)
        except ResourceRequestError as e:
            self.report_job_error(job_info, msg=f"Ray executor: {e}.\n")
            return
        if not self.settings.skip_resource_check:
            problem = infeasibility(
                request, self._nodes, self.settings.gpu_model_resource, self._head_address
            )
            if problem:
                if self._local_instance:
                    problem += (
                        " (No Ray cluster was running, so this is a local Ray instance with only "
                        "this machine's resources: start the cluster, or set --ray-address / "
                        "RAY_ADDRESS to its head.)"
                    )
                self.report_job_error(job_info, msg=f"Ray executor: cannot run this job: {problem}\n")
                return

        log_path = os.path.join(self.log_dir, job.name, f"{_slug(job)}.{uuid.uuid4().hex[:8]}.log")
        command = self.format_job_exec(job)
        self.logger.debug(f"Ray executor: submitting {command}")
        ref = self._remote_run.options(name=f"snakejob.{job.name}.{job.jobid}", **request.options()).remote(
            command,
            os.path.abspath(self.workflow.workdir_init),
            log_path,
            self.envvars(),
            float(self.settings.cancel_grace_seconds),
            int(self.settings.log_tail_lines),
        )
        job_info.external_jobid = ref.task_id().hex()
        job_info.aux = {"ref": ref, "log": log_path, "request": request.describe()}
        self.logger.info(
            f"Ray executor: job {job.jobid} ({job.name}) -> Ray task {job_info.external_jobid} "
            f"[{request.describe()}], log: {os.path.relpath(log_path)}"
        )
        self._running[ref] = job_info
        self.report_job_submission(job_info)

    def get_job_exec_prefix(self, job: JobExecutorInterface):
        return f"cd {shlex.quote(os.path.abspath(self.workflow.workdir_init))}"

    # -- status -----------------------------------------------------------------------------
    async def check_active_jobs(
        self, active_jobs: List[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        if not active_jobs:
            return
        if self._cancelling:
            # cancel_jobs() owns these tasks now; reporting each as failed would only add noise.
            for job_info in active_jobs:
                yield job_info
            return
        ray = self._ray
        by_ref = {job_info.aux["ref"]: job_info for job_info in active_jobs}
        refs = list(by_ref)
        timeout = min(
            _MAX_WAIT_SECONDS,
            max(0.1, float(self.workflow.remote_execution_settings.seconds_between_status_checks)),
        )
        async with self.status_rate_limiter:
            # Block until the first task finishes (or the timeout), then take every finished
            # task in one batch. Blocking is fine: this loop runs alone in its own thread.
            ready, _ = ray.wait(refs, num_returns=1, timeout=timeout, fetch_local=False)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        done = set(ready)
        for ref in refs:
            job_info = by_ref[ref]
            if ref not in done:
                yield job_info
                continue
            self._running.pop(ref, None)
            try:
                result = ray.get(ref)
            except Exception as e:  # task error, cancelled, node or worker died
                self.report_job_error(
                    job_info,
                    msg=self._failure_message(job_info, None, f"the Ray task failed: {e}"),
                )
                continue
            if result.get("error"):
                self.report_job_error(job_info, msg=self._failure_message(job_info, result, result["error"]))
            elif result.get("returncode") == 0:
                self.report_job_success(job_info)
            else:
                self.report_job_error(
                    job_info,
                    msg=self._failure_message(
                        job_info, result, f"the job exited with code {result.get('returncode')}"
                    ),
                )

    async def _wait_for_jobs(self):
        """RemoteExecutor's status loop, minus its thread-pool lock helper.

        The base loop takes self.lock through a thread pool; when Snakemake exits without
        calling shutdown() (e.g. "Nothing to be done") that pool is already closed and the
        loop prints "cannot schedule new futures after shutdown". Here the lock is only ever
        held for a list copy, so taking it directly in this dedicated thread is fine.
        """
        await asyncio.sleep(self.common_settings.init_seconds_before_status_checks)
        while True:
            with self.lock:
                if not self.wait:
                    return
                active_jobs = list(self.active_jobs)
                self.active_jobs.clear()
            still_active = [job_info async for job_info in self.check_active_jobs(active_jobs)]
            with self.lock:
                self.active_jobs.extend(still_active)
            await self.sleep()

    async def sleep(self):
        # check_active_jobs already blocks in ray.wait until a task finishes (at most
        # _MAX_WAIT_SECONDS), so no fixed pause between rounds: results arrive as tasks end.
        with self.lock:
            idle = not self.active_jobs
        await asyncio.sleep(_IDLE_SLEEP_SECONDS if idle else 0)

    def _failure_message(self, job_info: SubmittedJobInfo, result, reason: str) -> str:
        lines = self.settings.log_tail_lines
        where = ""
        if result:
            where = f" on node {result['node_id'][:12]} ({result['hostname']})"
        out = [f"Ray executor: task {job_info.external_jobid}{where}: {reason}."]
        task_tail = (result or {}).get("tail") or _task.tail(job_info.aux["log"], lines)
        if task_tail.strip():
            out.append(f"Last lines of the job output ({job_info.aux['log']}):\n" + _indent(task_tail))
        for log in _existing(job_info.job.log):
            log_tail = _task.tail(log, lines)
            if log_tail.strip():
                out.append(f"Last lines of log {log}:\n" + _indent(log_tail))
        return "\n".join(out) + "\n"

    def print_job_error(self, job_info: SubmittedJobInfo, msg=None, **kwargs):
        aux = job_info.aux or {}
        if aux.get("log") and os.path.exists(aux["log"]):
            kwargs.setdefault("aux_logs", [aux["log"]])
        if job_info.external_jobid is not None:
            kwargs["external_jobid"] = job_info.external_jobid
        job_info.job.log_error(msg, **kwargs)

    # -- cancellation and shutdown ----------------------------------------------------------
    def cancel_jobs(self, active_jobs: List[SubmittedJobInfo]):
        """Cancel running tasks: KeyboardInterrupt in each task (its job gets SIGTERM, then
        SIGKILL after the grace period); tasks still alive after that are force-killed."""
        ray = self._ray
        self._cancelling = True
        refs = list({job_info.aux["ref"] for job_info in active_jobs if job_info.aux} | set(self._running))
        if not refs:
            return
        self.logger.info(f"Ray executor: cancelling {len(refs)} Ray task(s).")
        for ref in refs:
            try:
                ray.cancel(ref, force=False)
            except Exception as e:
                self.logger.debug(f"Ray executor: cancel of {ref} failed: {e}")
        _, pending = ray.wait(
            refs,
            num_returns=len(refs),
            timeout=self.settings.cancel_grace_seconds + 5,
            fetch_local=False,
        )
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception as e:
                self.logger.debug(f"Ray executor: force cancel of {ref} failed: {e}")

    def shutdown(self):
        super().shutdown()
        # Disconnect the driver; a cluster we merely joined keeps running, one we started stops.
        if self._connected and self._ray.is_initialized():
            self._ray.shutdown()


def _declares_gpu(rule) -> bool:
    resources = getattr(rule, "resources", None) or {}
    for name in ("gpu", "gpu_model"):
        if name not in resources:
            continue
        value = resources[name]
        evaluable = getattr(value, "is_evaluable", None)
        if callable(value) or (callable(evaluable) and evaluable()):
            return True  # decided per job; keep the rule remote
        value = getattr(value, "value", value)
        if value not in (None, 0, "0", ""):
            return True
    return False


def _slug(job: JobExecutorInterface) -> str:
    wildcards = getattr(job, "wildcards_dict", None) or {}
    parts = [f"{k}={v}" for k, v in sorted(wildcards.items())]
    slug = "_".join(parts) or "job"
    return f"job{job.jobid}." + "".join(c if c.isalnum() or c in "=-_." else "-" for c in slug)[:80]


def _existing(paths: Iterable[str]) -> list:
    return [str(p) for p in paths if os.path.isfile(str(p))]


def _indent(text: str) -> str:
    return "".join(f"    {line}" for line in text.rstrip("\n").splitlines(keepends=True)) + "\n"
