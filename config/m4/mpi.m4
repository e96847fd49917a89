# mpi.m4: MPI is used only by perf/ to measure OpenMPI beside cclz; never by the library.
AC_DEFUN([CCLZ_CHECK_MPI], [
  AC_ARG_WITH([mpi], [AS_HELP_STRING([--with-mpi=yes|no|guess], [build the OpenMPI comparison benchmark (default guess)])],
              [], [with_mpi=guess])
  cclz_have_mpi=no
  AS_IF([test "x$with_mpi" != xno], [
    AC_PATH_PROG([MPICC], [mpicc], [])
    AS_IF([test -n "$MPICC"], [cclz_have_mpi=yes],
          [AS_IF([test "x$with_mpi" = xyes], [AC_MSG_ERROR([mpicc not found: apt-get install libopenmpi-dev])])])
  ])
  AM_CONDITIONAL([HAVE_MPI], [test "x$cclz_have_mpi" = xyes])
])
