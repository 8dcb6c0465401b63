# Cython declarations for helix/sim/loop.py (an "augmenting" .pxd: the .py stays plain Python and is
# the reference; setup.py compiles a copy of both as helix.sim._loop_c). Only exact types are
# declared: C doubles where Python has floats, C integers where it has ints far below 2**62, so the
# compiled copy takes the same steps on the same numbers. Schedulers still see ordinary attributes.
cimport cython


cdef Py_ssize_t SOURCE_ID, SINK_ID
cdef long NEW_REQ, START_TX, FINISH_SEND, FINISH_TX, GATHER, START_EXEC, FINISH_EXEC, WAKE


cdef class Query:
    cdef public long qid
    cdef public long input
    cdef public long output
    cdef public object arrival
    cdef public list route
    cdef public long done
    cdef public object kv_expect
    cdef public double prompt_lat
    cdef public double prompt_fin
    cdef public double dec_sum
    cdef public double dec_max
    cdef public double finish
    cdef public bint rejected


cdef class Req:
    cdef public Query query
    cdef public bint prompt
    cdef public long ntok
    cdef public long ctx
    cdef public double created
    cdef public long hop
    cdef public list route
    cdef public double sent_at
    cdef public double arrived_at
    cdef public double ready_at
    cdef public object stays
    cdef public long oseq


@cython.locals(q=Query)
cpdef Req new_query(list queries, double t, long inp, long out)


cdef class PlannedLinks:
    cdef list fixed_bw, l_lat, l_bpt, l_src, l_dst, link_free_at, link_busy, link_wait, link_sends
    cdef list parked, wake_at, busy, heap
    cdef double w0, w1


@cython.locals(bw=object, lat=cython.double, st=cython.double, dur=cython.double, fs=cython.double,
               land=cython.double, dst=cython.Py_ssize_t, link_free_at=list, wake_at=list)
cdef void send_planned(Req r, Py_ssize_t j, double t, long seq, PlannedLinks pl) except *


@cython.locals(p=list, qs=list, q0=list, ntok=cython.long, r=Req, item=tuple, stage=tuple, land=cython.double,
               land_max=cython.double, s0=cython.Py_ssize_t, i=cython.Py_ssize_t)
cdef void unpark(Py_ssize_t u, tuple key, list parked, list queues, list start, list cpu_buf, list fuse) except *


@cython.locals(p=list, first=tuple)
cdef void wake_if_idle(Py_ssize_t u, list parked, list wake_at, list heap) except *


@cython.locals(k=cython.Py_ssize_t, qs=list, q=list, c=cython.Py_ssize_t, c2=cython.Py_ssize_t)
cdef void advance(Py_ssize_t u, list kk, list queues, list cur) except *


cdef Req launched(double t, object sampler, list queries)


@cython.locals(
    heap=list, queues=list, cur=list, busy=list, batches=list, cpu_buf=list, kvu=list, kvc=list, kv_peak=list,
    start=list, kk=list, outbound=list, busy_until=list, parked=list, wake_at=list, l_src=list, l_dst=list,
    l_lat=list, l_bpt=list, sending=list, link_free=list, nic_out=list, nic_in=list, sink_list=list,
    node_busy=list, node_stay=list, node_stay_n=list, link_busy=list, link_wait=list, link_sends=list,
    queries=list, ex_list=list, link_free_at=list, d1=list, ptcache=list, dtcache=list, qs=list, p=list,
    rest=list, done=list, head=tuple, stage=tuple, pc=dict, dc=dict, jb=tuple, dec_loads=list, dec_weights=list, batch=list, q=list, ex_maxp=list, ex_maxpt=list, ex_maxd=list, ex_maxc=list,
    inf=cython.double, w0=cython.double, w1=cython.double, launch_end=cython.double, stop=cython.double,
    next_arr=cython.double, ht=cython.double, at=cython.double, t0=cython.double,
    t=cython.double, k1=cython.double, k2=cython.double, k3=cython.long, kind=cython.long,
    st=cython.double, fs=cython.double, land=cython.double, lat=cython.double, dur=cython.double,
    base=cython.double, tend=cython.double, tlast=cython.double, dj=cython.double, acc=cython.double,
    wa=cython.double, bu=cython.double, kvp=cython.long,
    n_ids=cython.Py_ssize_t, n_links=cython.Py_ssize_t, ai=cython.Py_ssize_t, n_arr=cython.Py_ssize_t,
    u=cython.Py_ssize_t, v=cython.Py_ssize_t, j=cython.Py_ssize_t, dst=cython.Py_ssize_t,
    src=cython.Py_ssize_t, c=cython.Py_ssize_t, last=cython.Py_ssize_t,
    events=cython.long, seq=cython.long, next_progress=cython.long, kv=cython.long, kv_add=cython.long,
    step=cython.long, ptok=cython.long, nd=cython.long, np_=cython.long, ctx=cython.long,
    maxp=cython.long, maxpt=cython.long, maxd=cython.long, maxc=cython.long, tokens=cython.long,
    planned=cython.bint, park=cython.bint, progress=cython.bint, has_feeder=cython.bint,
    feed_on_prompt=cython.bint, inwin=cython.bint, whole=cython.bint, walk=cython.bint, rescan=cython.bint,
    r=Req, qr=Query, pl=PlannedLinks)
cpdef double run_loop(object sim, object until, list arrivals, list fuse, object fixed_bw, double act_cost) except? -1.0
