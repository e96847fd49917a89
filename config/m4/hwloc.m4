# hwloc.m4: --with-hwloc=yes|no|guess (guess: use it when found).
AC_DEFUN([CCLZ_CHECK_HWLOC], [
  AC_ARG_WITH([hwloc], [AS_HELP_STRING([--with-hwloc=yes|no|guess], [topology detection (default guess)])],
              [], [with_hwloc=guess])
  cclz_have_hwloc=no
  AS_IF([test "x$with_hwloc" != xno], [
    AC_CHECK_HEADER([hwloc.h], [AC_CHECK_LIB([hwloc], [hwloc_topology_init], [cclz_have_hwloc=yes])])
    AS_IF([test "x$with_hwloc" = xyes -a "x$cclz_have_hwloc" = xno],
          [AC_MSG_ERROR([--with-hwloc=yes but hwloc was not found: apt-get install libhwloc-dev])])
  ])
  AS_IF([test "x$cclz_have_hwloc" = xyes], [
    AC_DEFINE([CCLZ_HAVE_HWLOC], [1], [hwloc is available])
    HWLOC_LIBS="-lhwloc"])
  AC_SUBST([HWLOC_LIBS])
  AM_CONDITIONAL([HAVE_HWLOC], [test "x$cclz_have_hwloc" = xyes])
])
