# Cython declarations for helix/placement/decode_loop.py (an "augmenting" .pxd: the .py stays plain
# Python and is the reference; setup.py compiles a copy of both as helix.placement._decode_c). Only
# exact types are declared: C doubles where Python has floats, C integers where it has ints far below
# 2**62, typed memoryviews over the array.array buffers (the helpers' as module state: a memoryview
# argument is a struct copied by value), so the compiled copy takes the same steps on the same numbers.
cimport cython


cdef double INF
cdef long long SINK, LAND, START, END, LAUNCH, DECODE


# the helpers' arrays (module state, set by run; the event heap's, _ht, _hs, _he, and its functions:
# event_heap.pxd, which setup.py appends here)
cdef double[::1] _lat, _tok, _prs, _link_free, _g_t, _g_sp, _inv, _load, _p_t, _p_tl
cdef long long[::1] _g_cnt, _r_len, _rt, _r_next, _r_pr, _g_head
cdef long long[::1] _p_head, _p_tail, _p_cnt, _touched


@cython.locals(h=cython.Py_ssize_t, u=cython.longlong, best=cython.Py_ssize_t, low=cython.double,
               c=cython.Py_ssize_t, a=cython.Py_ssize_t, v=cython.double)
cdef inline Py_ssize_t route(long long[::1] c_start, long long[::1] c_idx, long long[::1] dst,
                             double[::1] share, double[::1] load, long long[::1] rt, Py_ssize_t r0,
                             double w) noexcept


@cython.locals(lo=cython.Py_ssize_t, hi=cython.Py_ssize_t, mid=cython.Py_ssize_t)
cdef inline Py_ssize_t bisect_right(long long[::1] cum, Py_ssize_t n, double v) noexcept


@cython.locals(f=cython.double, item=cython.double, sp=cython.double)
cdef void send(Py_ssize_t a, Py_ssize_t g, long long pr, double t, double sp_in, Py_ssize_t hn,
               long long seq) noexcept


cdef Py_ssize_t gather(Py_ssize_t x, Py_ssize_t s, double t, Py_ssize_t nt) noexcept


@cython.locals(sp=cython.double)
cdef void leave(Py_ssize_t x, Py_ssize_t g, Py_ssize_t hn, long long seq) noexcept


@cython.locals(c=cython.Py_ssize_t, b=cython.Py_ssize_t)
cdef void load_route(Py_ssize_t s, Py_ssize_t r0) noexcept


@cython.locals(a=cython.double)
cdef (double, double, double) upto(double t, double w0, double last, long long n_dec, long long n_pr,
                                   double area_dec, double area_pr) noexcept


@cython.locals(
    n=cython.Py_ssize_t, nl=cython.Py_ssize_t, hops=cython.Py_ssize_t, n_tr=cython.Py_ssize_t,
    total=cython.longlong, load=cython.double[::1], busy=cython.longlong[::1],
    q_head=cython.longlong[::1], q_tail=cython.longlong[::1], w_head=cython.longlong[::1], u=cython.Py_ssize_t,
    p_cnt=cython.longlong[::1], touched=cython.longlong[::1],
    cap=cython.Py_ssize_t, r_hop=cython.longlong[::1], r_pr=cython.longlong[::1], r_left=cython.longlong[::1],
    r_len=cython.longlong[::1], r_next=cython.longlong[::1], rt=cython.longlong[::1], free=cython.longlong[::1],
    g_head=cython.longlong[::1], g_cnt=cython.longlong[::1], g_t=cython.double[::1], g_sp=cython.double[::1],
    g_next=cython.longlong[::1], g_free=cython.longlong[::1], n_gfree=cython.Py_ssize_t,
    ht=cython.double[::1], he=cython.longlong[::1], n_slots=cython.Py_ssize_t,
    n_free=cython.Py_ssize_t, hn=cython.Py_ssize_t, seq=cython.longlong, done=cython.longlong,
    n_dec=cython.longlong, n_pr=cython.longlong, area_dec=cython.double, area_pr=cython.double,
    last=cython.double, x=cython.Py_ssize_t, y=cython.Py_ssize_t, z=cython.Py_ssize_t, s=cython.Py_ssize_t,
    c=cython.Py_ssize_t, g=cython.Py_ssize_t, gn=cython.Py_ssize_t, keep=cython.int, nt=cython.Py_ssize_t,
    sp=cython.double, ti=cython.double, order=list, pend=cython.Py_ssize_t,
    nxt=cython.double, t=cython.double, ev=cython.longlong, kind=cython.longlong, p=cython.Py_ssize_t,
    r0=cython.Py_ssize_t, nd=cython.Py_ssize_t, prompts=cython.Py_ssize_t,
    bh=cython.Py_ssize_t, bt=cython.Py_ssize_t, qh=cython.Py_ssize_t, qt=cython.Py_ssize_t,
    nx=cython.Py_ssize_t, dv=cython.double, walk=cython.double)
cpdef tuple run(double[::1] k, double[::1] dec, long long[::1] d_off, long long[::1] d_n, long long[::1] dm,
                double[::1] copy, double[::1] prompt, long long[::1] c_start, long long[::1] c_idx,
                long long[::1] dst, double[::1] share, double[::1] inv, double[::1] lat, double[::1] tok,
                double[::1] prs, double[::1] ins, long long[::1] outs, long long[::1] cum, Py_ssize_t n_req,
                double w0, double w1, double extra, object rng, double delay)
