//! `nearcache._native.Call`: what every `AsyncCache` method returns.
//!
//! asyncio schedules only coroutines (`asyncio.create_task`,
//! `TaskGroup.create_task`, and 3.12's `wait_for`, which awaits inside a
//! task), and asyncio's `iscoroutine` test is `isinstance(obj,
//! collections.abc.Coroutine)` (after the native types). So a call is an
//! object with the coroutine protocol (`__await__`, `send`, `throw`,
//! `close`, iteration), registered with that ABC, rather than a plain
//! awaitable. It is not a Python-level `async def` coroutine on purpose:
//!
//! - an L1 hit is [`Call::done`]: the first `send` finishes it (raises
//!   `StopIteration(value)`), so `await cache.get(k)` on a hit never yields
//!   to the event loop and costs one small object, as before;
//! - a call that went to core's runtime is [`Call::waiting`] on the asyncio
//!   future the bridge (`aio::Bridge`) completes: it steps exactly as
//!   `await future` does (the future is yielded to the task that awaits it).
//!
//! Awaiting a call twice gives the same answer, as an asyncio future does.
//! Throwing into a waiting call, or closing it (a cancelled task, a closed
//! generator), cancels its asyncio future: the bridge then drops the result.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// One `AsyncCache` call, as a coroutine (see the module docs).
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct Call {
    state: State,
}

enum State {
    /// Answered on the calling thread: the first step returns it.
    Done(Py<PyAny>),
    /// An asyncio future that the bridge completes on the loop's thread.
    Waiting(Py<PyAny>),
}

impl Call {
    /// A call answered already (an L1 hit, a context manager's `self`).
    pub(crate) fn done<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, Call { state: State::Done(value.unbind()) })?.into_any())
    }

    /// A call whose answer arrives through `future` (an asyncio future).
    pub(crate) fn waiting<'py>(py: Python<'py>, future: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, Call { state: State::Waiting(future.unbind()) })?.into_any())
    }

    /// One step: yields what the task must wait for, or finishes with
    /// `StopIteration(value)` (or the call's exception).
    fn step<'py>(&self, py: Python<'py>, sent: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match &self.state {
            // A generator returning a value raises StopIteration(value);
            // `await` unpacks it (the tuple keeps a tuple value whole).
            State::Done(value) => Err(PyStopIteration::new_err((value.clone_ref(py),))),
            // Exactly `yield from future.__await__()`, one step at a time:
            // the future's own iterator yields it (marked as awaited) while
            // it is pending and raises StopIteration(result) once done.
            State::Waiting(future) => {
                let steps = future.bind(py).call_method0(pyo3::intern!(py, "__await__"))?;
                steps.call_method1(pyo3::intern!(py, "send"), (sent,))
            }
        }
    }

    /// Gives up waiting: nobody will read the result any more.
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        if let State::Waiting(future) = &self.state {
            let future = future.bind(py);
            if !future.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
                future.call_method0(pyo3::intern!(py, "cancel"))?;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Call {
    fn __await__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.step(py, py.None().into_bound(py))
    }

    #[pyo3(signature = (value, /))]
    fn send<'py>(&self, py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.step(py, value)
    }

    /// Raises the given exception here, where the call waits (the
    /// coroutine protocol's `throw`, in its 3-argument form too).
    #[pyo3(signature = (typ, val = None, tb = None, /))]
    fn throw<'py>(
        &self,
        py: Python<'py>,
        typ: Bound<'py, PyAny>,
        val: Option<Bound<'py, PyAny>>,
        tb: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.abandon(py)?;
        let exception = match val.filter(|v| !v.is_none()) {
            _ if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() => typ,
            Some(val) if val.is_instance(&typ)? => val,
            Some(val) if typ.is_instance_of::<PyType>() => typ.call1((val,))?,
            None if typ.is_instance_of::<PyType>() => typ.call0()?,
            _ => typ,
        };
        let exception = match tb.filter(|t| !t.is_none()) {
            Some(tb) => exception.call_method1(pyo3::intern!(py, "with_traceback"), (tb,))?,
            None => exception,
        };
        // Not an exception at all: PyErr makes that a TypeError, as
        // `generator.throw` does.
        Err(PyErr::from_value(exception))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.abandon(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match &self.state {
            State::Done(_) => "<nearcache._native.Call done>".to_owned(),
            State::Waiting(future) => format!("<nearcache._native.Call waiting on {}>", future.bind(py).repr()?),
        })
    }
}

/// Registers `Call` with `collections.abc.Coroutine`, which is what
/// `asyncio.iscoroutine` (and so `create_task`) checks.
pub(crate) fn register(py: Python<'_>) -> PyResult<()> {
    let coroutine = py.import("collections.abc")?.getattr("Coroutine")?;
    coroutine.call_method1("register", (py.get_type::<Call>(),))?;
    Ok(())
}
