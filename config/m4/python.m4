# python.m4: the Python package (python/cclz, pure Python over libcclz.so through ctypes) is
# installed for PYTHON3 (default: Debian's /usr/bin/python3, which has python3-numpy and
# python3-torch) in ${prefix}/lib/pythonX.Y/dist-packages, a directory that Python searches
# for prefix /usr and /usr/local. --without-python leaves it out.
AC_DEFUN([CCLZ_CHECK_PYTHON], [
  AC_ARG_WITH([python],
    [AS_HELP_STRING([--without-python], [do not install the cclz Python package])],
    [], [with_python=yes])
  AC_ARG_VAR([PYTHON3], [the Python 3 the cclz package is installed for])
  cclz_have_python=no
  if test "x$with_python" != xno; then
    AS_IF([test -z "$PYTHON3" && test -x /usr/bin/python3], [PYTHON3=/usr/bin/python3])
    AS_IF([test -z "$PYTHON3"], [AC_PATH_PROG([PYTHON3], [python3])])
    cclz_python_version=`$PYTHON3 -c 'import sys; print("%d.%d" % sys.version_info[[:2]])' 2>/dev/null`
    if test -n "$cclz_python_version"; then
      cclz_have_python="yes ($PYTHON3, $cclz_python_version)"
      AC_SUBST([CCLZ_PYTHON_DIR], ['${prefix}/lib/python'"$cclz_python_version"'/dist-packages'])
    elif test "x$with_python" = xyes && test -n "$PYTHON3"; then
      AC_MSG_WARN([$PYTHON3 does not run; the Python package will not be installed])
    fi
  fi
  AM_CONDITIONAL([HAVE_PYTHON], [test "x$cclz_have_python" != xno])
])
