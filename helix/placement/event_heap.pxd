# Cython declarations for helix/placement/event_heap.py: setup.py appends them to the declarations
# of each compiled loop that has the heap's code pasted in (never compiled on their own).
cimport cython


# the heap's arrays (the loop's module state, set by its run)
cdef double[::1] _ht
cdef long long[::1] _hs, _he


@cython.locals(i=cython.Py_ssize_t, p=cython.Py_ssize_t)
cdef void heap_push(Py_ssize_t n, double t, long long s, long long e) noexcept


@cython.locals(i=cython.Py_ssize_t, c=cython.Py_ssize_t, t=cython.double, s=cython.longlong, e=cython.longlong)
cdef void heap_drop(Py_ssize_t n) noexcept
