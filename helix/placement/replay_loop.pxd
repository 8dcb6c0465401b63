# Cython declarations for helix/placement/replay_loop.py (an "augmenting" .pxd: the .py stays plain
# Python and is the reference; setup.py compiles a copy of both as helix.placement._replay_c). Only
# exact types are declared: C doubles where Python has floats, C integers where it has ints far below
# 2**62, typed memoryviews over the array.array buffers (the helpers' as module state: a memoryview
# argument is a struct copied by value), so the compiled copy takes the same steps on the same numbers.
cimport cython


cdef double INF
cdef long long LAUNCH


# the helpers' arrays (module state, set by run; the event heap's, _ht, _hs, _he, and its functions:
# event_heap.pxd, which setup.py appends here)
cdef double[::1] _avail, _floor, _inv, _loads, _d_rate, _d_last
cdef long long[::1] _k, _c_start, _c_idx, _l_dst, _route


@cython.locals(h=cython.Py_ssize_t, cur=cython.Py_ssize_t, best=cython.Py_ssize_t, c=cython.Py_ssize_t,
               j=cython.Py_ssize_t, dst=cython.Py_ssize_t, best_v=cython.double, v=cython.double)
cdef Py_ssize_t plan(Py_ssize_t rn, double w, double x, double t) noexcept


@cython.locals(c=cython.Py_ssize_t, u=cython.Py_ssize_t)
cdef void take(Py_ssize_t r0, Py_ssize_t h, double x, double sign) noexcept


@cython.locals(c=cython.Py_ssize_t, j=cython.Py_ssize_t)
cdef void decode(Py_ssize_t r0, Py_ssize_t h, double t, double step) noexcept


@cython.locals(
    blk=list, bi=cython.Py_ssize_t, n_tr=cython.Py_ssize_t, n_g=cython.Py_ssize_t, nl=cython.Py_ssize_t,
    hops=cython.Py_ssize_t, q=cython.Py_ssize_t, g=cython.Py_ssize_t, cap=cython.Py_ssize_t,
    route=cython.longlong[::1], ht=cython.double[::1], he=cython.longlong[::1], hn=cython.Py_ssize_t,
    seq=cython.longlong, nr=cython.Py_ssize_t, ev=cython.longlong, r=cython.Py_ssize_t,
    r_w=cython.double[::1], r_x=cython.double[::1], r_rtt=cython.double[::1], r_h=cython.longlong[::1],
    free=cython.longlong[::1], n_slots=cython.Py_ssize_t, n_free=cython.Py_ssize_t,
    t=cython.double, t_open=cython.double, t_end=cython.double, dt=cython.double, last=cython.double,
    area_f=cython.double, area_p=cython.double, area_in=cython.double, area_x=cython.double,
    area_d=cython.double, s_in=cython.double, s_x=cython.double, s_rate=cython.double,
    life_sum=cython.double, life=cython.double, span=cython.double, w=cython.double, out=cython.double,
    x=cython.double, pl=cython.double, rtt=cython.double, step=cython.double,
    n_flight=cython.long, n_prompt=cython.long, launches=cython.long, rejected=cython.long,
    admitted=cython.long, total=cython.long, h=cython.Py_ssize_t, r0=cython.Py_ssize_t,
    c=cython.Py_ssize_t, j=cython.Py_ssize_t, u=cython.Py_ssize_t, in_win=cython.bint, limited=cython.bint,
    feed=cython.bint)
cpdef tuple run(long long[::1] k, double[::1] avail, double[::1] floor, double[::1] g_tot, double[::1] g_thr,
                long long[::1] c_start, long long[::1] c_idx, long long[::1] l_dst, double[::1] inv,
                double[::1] n_pc, double[::1] n_dc, double[::1] l_pc, double[::1] l_dc,
                const double[:] inputs, const double[:] outputs, object rng, double kv_extra, long n_init,
                double delay, double settle_l, double span_l, long max_launches)
