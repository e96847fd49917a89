# verbs.m4: --with-verbs=yes|no|guess. cclz reaches RDMA through UCX; this only records
# whether the verbs headers are there, for the info tool and for later direct use.
AC_DEFUN([CCLZ_CHECK_VERBS], [
  AC_ARG_WITH([verbs], [AS_HELP_STRING([--with-verbs=yes|no|guess], [RDMA verbs (default guess)])],
              [], [with_verbs=guess])
  cclz_have_verbs=no
  AS_IF([test "x$with_verbs" != xno], [
    AC_CHECK_HEADER([infiniband/verbs.h], [cclz_have_verbs=yes])
    AS_IF([test "x$with_verbs" = xyes -a "x$cclz_have_verbs" = xno],
          [AC_MSG_ERROR([--with-verbs=yes but infiniband/verbs.h was not found: apt-get install libibverbs-dev])])
  ])
  AS_IF([test "x$cclz_have_verbs" = xyes], [AC_DEFINE([CCLZ_HAVE_VERBS], [1], [verbs headers found])])
])
