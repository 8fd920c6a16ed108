/* What both C extensions (``_accel.c``, ``process/_steps.c``) need from CPython across versions:
 * 3.12's exception API on 3.11, and the offset of a ``__slots__`` member, by which they read and
 * write a Python object's slots without a call (a call is a check point; see _interrupts.py). */
#ifndef MPSC_COMPAT_H
#define MPSC_COMPAT_H

#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>
#define Py_T_OBJECT_EX T_OBJECT_EX

/* The exception being raised, normalized, with its traceback (3.11 keeps the three apart). */
static inline PyObject *
PyErr_GetRaisedException(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    Py_DECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Raise ``exc`` (a reference stolen), with its traceback; NULL clears the error (as 3.12's). */
static inline void
PyErr_SetRaisedException(PyObject *exc)
{
    if (exc == NULL) {
        PyErr_Clear();
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
}
#endif

/* The offset of ``cls``'s slot ``name`` (an object slot of ``__slots__``) into ``*offset``;
 * -1 with TypeError if it is something else. */
static inline int
slot_offset(PyObject *cls, const char *name, Py_ssize_t *offset)
{
    PyObject *descr = PyObject_GetAttrString(cls, name);
    if (descr == NULL)
        return -1;
    int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type)
             && ((PyMemberDescrObject *)descr)->d_member->type == Py_T_OBJECT_EX;
    if (ok)
        *offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    else
        PyErr_Format(PyExc_TypeError, "%R.%s is not an object slot", cls, name);
    Py_DECREF(descr);
    return ok ? 0 : -1;
}

#endif
