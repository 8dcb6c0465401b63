"""MILP backends behind one registry (helix.registry).

``@register_backend("name")`` on a class with ``solve``.

Each backend takes the neutral :class:`~helix.placement.milp.model.Milp`, an optional complete MIP
start, the preset (time limit, threads, seed; under ``budget: evaluations`` also the node limit
``milp_max_nodes``, which makes the solve reproducible) and two hooks: ``on_incumbent(seconds, objective,
bound, x)`` for the solver trace, and ``should_stop()`` polled so that SIGINT/SIGTERM end the solve
with the best incumbent kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from helix.errors import HelixInputError
from helix.registry import Registry
from helix.placement.milp.model import Milp


@dataclass
class MilpOutcome:
    status: str  # optimal | time_limit | interrupted | infeasible | other
    x: np.ndarray | None
    objective: float | None
    bound: float | None


BACKENDS: Registry[type] = Registry("MILP backend", source="placement preset", field="milp_backend")
register_backend = BACKENDS.register


def get_backend(name: str):
    return BACKENDS.get(name)()


def backend_names() -> list[str]:
    return BACKENDS.choices()


@register_backend("highs")
class HighsBackend:
    def solve(
        self, milp: Milp, start, settings, on_incumbent: Callable, should_stop: Callable[[], bool]
    ) -> MilpOutcome:
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(settings.time_limit_s))
        h.setOptionValue("threads", int(settings.threads))
        h.setOptionValue("random_seed", int(settings.seed))
        h.setOptionValue("mip_rel_gap", 1e-9)
        if settings.budget == "evaluations":
            h.setOptionValue("mip_max_nodes", int(settings.milp_max_nodes))
        lp = highspy.HighsLp()
        n = milp.A.shape[1]
        lp.num_col_ = n
        lp.num_row_ = milp.A.shape[0]
        lp.col_cost_ = -milp.c  # HiGHS minimises
        lp.col_lower_ = milp.col_lo
        lp.col_upper_ = np.where(np.isinf(milp.col_hi), highspy.kHighsInf, milp.col_hi)
        lp.row_lower_ = np.where(np.isinf(milp.row_lo), -highspy.kHighsInf, milp.row_lo)
        lp.row_upper_ = np.where(np.isinf(milp.row_hi), highspy.kHighsInf, milp.row_hi)
        csc = milp.A.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr
        lp.a_matrix_.index_ = csc.indices
        lp.a_matrix_.value_ = csc.data
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = milp.A.shape[0]
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in milp.integrality
        ]
        h.passModel(lp)
        t0 = time.monotonic()

        def improving(e):
            x = np.array(e.data_out.mip_solution)
            on_incumbent(
                time.monotonic() - t0, -e.data_out.objective_function_value, -e.data_out.mip_dual_bound, x
            )

        def interrupt(e):
            if should_stop():
                e.interrupt()

        h.cbMipImprovingSolution += improving
        h.cbMipInterrupt += interrupt
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(map(float, start))
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        S = highspy.HighsModelStatus
        name = {
            S.kOptimal: "optimal",
            S.kTimeLimit: "time_limit",
            S.kInterrupt: "interrupted",
            S.kInfeasible: "infeasible",
        }.get(status, str(status))
        x = None
        if info.primal_solution_status == 2:
            x = np.array(h.getSolution().col_value)
        obj = -info.objective_function_value if x is not None else None
        bound = -info.mip_dual_bound if np.isfinite(info.mip_dual_bound) else None
        return MilpOutcome(name, x, obj, bound)


@register_backend("cpsat")
class CpSatBackend:
    """OR-Tools CP-SAT through its MIP wrapper (it scales the float coefficients itself)."""

    def solve(self, milp: Milp, start, settings, on_incumbent, should_stop) -> MilpOutcome:
        from ortools.linear_solver import pywraplp

        solver = pywraplp.Solver.CreateSolver("CP_SAT")
        if solver is None:
            raise HelixInputError("placement preset", "backend", "OR-Tools CP-SAT is not available", "cpsat")
        inf = solver.infinity()
        xs = []
        for j in range(len(milp.col_names)):
            lo, hi = milp.col_lo[j], milp.col_hi[j]
            hi = inf if np.isinf(hi) else hi
            # CP-SAT needs finite domains: no start exceeds L, no flow exceeds the objective's scale
            xs.append(
                solver.IntVar(lo, hi, milp.col_names[j])
                if milp.integrality[j]
                else solver.NumVar(lo, hi, milp.col_names[j])
            )
        A = milp.A.tocsr()
        for r in range(A.shape[0]):
            lo, hi = milp.row_lo[r], milp.row_hi[r]
            ct = solver.Constraint(-inf if np.isinf(lo) else lo, inf if np.isinf(hi) else hi)
            for p in range(A.indptr[r], A.indptr[r + 1]):
                ct.SetCoefficient(xs[A.indices[p]], float(A.data[p]))
        objective = solver.Objective()
        for j in np.nonzero(milp.c)[0]:
            objective.SetCoefficient(xs[j], float(milp.c[j]))
        objective.SetMaximization()
        if start is not None:
            solver.SetHint(xs, [float(v) for v in start])
        solver.SetTimeLimit(int(settings.time_limit_s * 1000))
        params = f"num_workers:{settings.threads} random_seed:{settings.seed}"
        if settings.budget == "evaluations":  # CP-SAT counts no nodes: a deterministic-time budget
            params += f" max_deterministic_time:{settings.milp_max_nodes / 100.0} interleave_search:true"
        solver.SetSolverSpecificParametersAsString(params)
        t0 = time.monotonic()
        status = solver.Solve()
        names = {
            pywraplp.Solver.OPTIMAL: "optimal",
            pywraplp.Solver.FEASIBLE: "time_limit",
            pywraplp.Solver.INFEASIBLE: "infeasible",
        }
        if status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            x = np.array([v.solution_value() for v in xs])
            obj = objective.Value()
            bound = objective.BestBound()
            on_incumbent(time.monotonic() - t0, obj, bound, x)
            return MilpOutcome(names[status], x, obj, bound)
        return MilpOutcome(names.get(status, "other"), None, None, None)


@register_backend("gurobi")
class GurobiBackend:
    def solve(self, milp: Milp, start, settings, on_incumbent, should_stop) -> MilpOutcome:
        try:
            import gurobipy as gp
            from gurobipy import GRB
        except ImportError:
            raise HelixInputError(
                "placement preset", "backend", "gurobipy is not installed (pip install gurobipy)", "gurobi"
            ) from None
        try:
            env = gp.Env(empty=True)
            env.setParam("OutputFlag", 0)
            env.start()
            m = gp.Model(env=env)
            m.Params.TimeLimit = float(settings.time_limit_s)
            m.Params.Threads = int(settings.threads)
            m.Params.Seed = int(settings.seed)
            if settings.budget == "evaluations":
                m.Params.NodeLimit = float(settings.milp_max_nodes)
            vt = np.where(milp.integrality == 1, GRB.INTEGER, GRB.CONTINUOUS)
            x = m.addMVar(
                len(milp.col_names),
                lb=milp.col_lo,
                ub=np.where(np.isinf(milp.col_hi), GRB.INFINITY, milp.col_hi),
                vtype=vt,
                obj=milp.c,
            )
            m.ModelSense = GRB.MAXIMIZE
            lo_f, hi_f = np.isfinite(milp.row_lo), np.isfinite(milp.row_hi)
            eq = lo_f & hi_f & (milp.row_lo == milp.row_hi)
            A = milp.A.tocsr()
            if eq.any():
                m.addMConstr(A[eq], x, "=", milp.row_hi[eq])
            le = hi_f & ~eq
            if le.any():
                m.addMConstr(A[le], x, "<", milp.row_hi[le])
            ge = lo_f & ~eq
            if ge.any():
                m.addMConstr(A[ge], x, ">", milp.row_lo[ge])
            if start is not None:
                x.Start = start
            t0 = time.monotonic()

            def cb(model, where):
                if where == GRB.Callback.MIPSOL:
                    vals = np.array(model.cbGetSolution(x.tolist()))
                    on_incumbent(
                        time.monotonic() - t0,
                        model.cbGet(GRB.Callback.MIPSOL_OBJ),
                        model.cbGet(GRB.Callback.MIPSOL_OBJBND),
                        vals,
                    )
                elif where == GRB.Callback.MIP and should_stop():
                    model.terminate()

            m.optimize(cb)
        except gp.GurobiError as exc:
            raise HelixInputError(
                "placement preset", "backend", f"Gurobi cannot solve this model: {exc}", "gurobi"
            ) from None
        names = {
            GRB.OPTIMAL: "optimal",
            GRB.TIME_LIMIT: "time_limit",
            GRB.INTERRUPTED: "interrupted",
            GRB.INFEASIBLE: "infeasible",
        }
        status = names.get(m.Status, str(m.Status))
        if m.SolCount > 0:
            return MilpOutcome(status, np.array(x.X), float(m.ObjVal), float(m.ObjBound))
        return MilpOutcome(status, None, None, None)
