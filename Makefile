# Two commands do all set-up: `make demo` and `make test` create the virtual environment of a
# stack first if it is missing, with that stack's constraints file on every install.
#
#   STACK=auto     (default) the current stack if Python 3.13 or 3.12 is found, else the pinned one
#   STACK=current  Python 3.13 / 3.12, TensorFlow >= 2.20, Keras 3          → .venv-current
#   STACK=pinned   Python 3.11, TensorFlow 2.15, Keras 2 (TF Privacy parity) → .venv-pinned
#   PYTHON=/path/to/python3.x   use this interpreter (its version picks the stack)
#   JOBS=2         test processes (pytest-xdist); JOBS=0 runs the tests in this process
STACK  ?= auto
JOBS   ?= 2
ifneq ($(MAKECMDGOALS),clean)
FOUND  := $(shell sh tools/find_python.sh $(STACK) $(PYTHON))
ifeq ($(FOUND),)
$(error no Python for STACK=$(STACK): the current stack needs python3.13 or python3.12, the pinned one python3.11)
endif
endif
STACK_NAME  := $(word 1,$(FOUND))
PYTHON_EXE  := $(word 2,$(FOUND))
VENV        ?= .venv-$(STACK_NAME)
PY          := $(VENV)/bin/python
CONSTRAINTS := constraints/$(STACK_NAME).txt
STAMP       := $(VENV)/.tfdpfair-installed
# TF Privacy 0.9.0 and its privacy tests declare Requires-Python < 3.12, which pip cannot override
# per package: on the current stack they are installed without their declared dependencies
# (setup.py lists what they need at run time).
TF_PRIVACY  := tensorflow-privacy==0.9.0 tensorflow-empirical-privacy==0.1.0
# On the current stack, tf-keras (Keras 2, small once TensorFlow is installed) lets the tests also run
# TF Privacy's own Keras backends against ours, with TF_USE_LEGACY_KERAS=1; tfdpfair never needs it.
comma       := ,
EXTRAS      := $(if $(filter current,$(STACK_NAME)),test$(comma)tf-keras,test)
LEGACY_TESTS := tests/privacy/test_tfp.py tests/privacy/test_private_model.py tests/test_compat.py

.PHONY: install demo test stack clean

install: $(STAMP)

$(STAMP): setup.py $(CONSTRAINTS)
	@echo "tfdpfair: building the $(STACK_NAME) stack in $(VENV) with $(PYTHON_EXE)"
	@test -x $(PY) || $(PYTHON_EXE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
ifeq ($(STACK_NAME),current)
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python -c $(CONSTRAINTS) $(TF_PRIVACY)
endif
	@touch $(STAMP)

stack: install
	@$(PY) -c "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tfdpfair.compat as c; print('tfdpfair:', c.describe(), '($(VENV))')"

demo: stack
	$(PY) reproductions/dp_dcgan.py --preset quick

# With JOBS test processes, each (and each script a test starts) runs TensorFlow on cores/JOBS threads: on 2 cores,
# two dp_dcgan smoke runs side by side took 101 s and 125 s with TensorFlow's default thread pools, 84 s and 105 s
# with one thread each (measured in one session; the machine is noisy). JOBS=0 or auto: TensorFlow's defaults.
CORES   := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 2)
THREADS := $(shell case "$(JOBS)" in (''|*[!0-9]*|0) echo 0;; (*) n=$$(( $(CORES) / $(JOBS) )); [ $$n -gt 0 ] || n=1; echo $$n;; esac)
TEST_ENV := $(if $(filter 0,$(THREADS)),,TF_NUM_INTRAOP_THREADS=$(THREADS) TF_NUM_INTEROP_THREADS=$(THREADS) OMP_NUM_THREADS=$(THREADS))

test: stack
	$(TEST_ENV) $(PY) -m pytest -q -n $(JOBS) --maxschedchunk=1 --durations=15
ifeq ($(STACK_NAME),current)
	@echo "tfdpfair: TF Privacy's Keras 2 backends against ours (tf-keras, TF_USE_LEGACY_KERAS=1)"
	$(TEST_ENV) TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q -n $(JOBS) --maxschedchunk=1 $(LEGACY_TESTS)
endif

clean:
	rm -rf .venv .venv-current .venv-pinned *.egg-info .pytest_cache
