#!/bin/sh
# Usage: tools/find_python.sh STACK [PYTHON]
#   STACK: auto | current | pinned. Prints "<stack> <interpreter>" for the newest Python the
#   stack supports (current: 3.13, 3.12; pinned: 3.11); auto tries current first, then pinned.
#   PYTHON (optional): use this interpreter and print the stack its version belongs to.
# Looks at python3.X and python3 on PATH, then at pyenv's installed versions (a pyenv shim for a
# version that is installed but not selected fails to run, so every candidate is run once).
stack=${1:-auto}
given=${2:-}

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
stack_of() {
  case "$1" in
    3.12|3.13) echo current ;;
    3.11) echo pinned ;;
    *) echo unsupported ;;
  esac
}

if [ -n "$given" ]; then
  v=$(version_of "$given") || { echo "error: $given does not run" >&2; exit 1; }
  s=$(stack_of "$v")
  if [ "$s" = unsupported ] || { [ "$stack" != auto ] && [ "$stack" != "$s" ]; }; then
    case "$stack" in pinned) need=3.11 ;; current) need="3.12 or 3.13" ;; *) need="3.11, 3.12 or 3.13" ;; esac
    echo "error: $given is Python $v; stack '$stack' needs $need" >&2
    exit 1
  fi
  echo "$s $given"; exit 0
fi

pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
candidates() {  # $1: minor versions, newest first
  for minor in $1; do
    echo "python3.$minor"
    for p in "$pyenv_root"/versions/3."$minor".*/bin/python3."$minor"; do [ -x "$p" ] && echo "$p"; done
  done
  echo python3
}
try() {  # $1: stack, $2: minor versions
  for c in $(candidates "$2"); do
    v=$(version_of "$c") || continue
    [ "$(stack_of "$v")" = "$1" ] || continue
    case " $2 " in *" ${v#3.} "*) ;; *) continue ;; esac
    echo "$1 $(command -v "$c" 2>/dev/null || echo "$c")"; return 0
  done
  return 1
}

case "$stack" in
  current) try current "13 12" ;;
  pinned) try pinned "11" ;;
  auto) try current "13 12" || try pinned "11" ;;
  *) echo "error: unknown stack '$stack'; choose current, pinned or auto" >&2; exit 1 ;;
esac || { echo "error: no Python for stack '$stack' found (current: 3.13 or 3.12; pinned: 3.11)" >&2; exit 1; }
