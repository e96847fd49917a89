# cuda.m4: --with-cuda=yes|no|guess|DIR (guess: /usr/local/cuda when nvcc is there).
AC_DEFUN([CCLZ_CHECK_CUDA], [
  AC_ARG_WITH([cuda], [AS_HELP_STRING([--with-cuda=yes|no|guess|DIR], [build cuda/ with nvcc (default guess)])],
              [], [with_cuda=guess])
  cclz_have_cuda=no
  cclz_cuda_dir=
  AS_CASE([$with_cuda],
    [no], [],
    [yes|guess], [cclz_cuda_dir=/usr/local/cuda],
    [cclz_cuda_dir=$with_cuda])
  AS_IF([test -n "$cclz_cuda_dir"], [
    AS_IF([test -x "$cclz_cuda_dir/bin/nvcc" -a -f "$cclz_cuda_dir/include/cuda_runtime.h"],
          [cclz_have_cuda=yes],
          [AS_IF([test "x$with_cuda" != xguess],
                 [AC_MSG_ERROR([no nvcc or cuda_runtime.h under $cclz_cuda_dir])])])
  ])
  AS_IF([test "x$cclz_have_cuda" = xyes], [
    NVCC="$cclz_cuda_dir/bin/nvcc"
    CUDA_CFLAGS="-I$cclz_cuda_dir/include"
    CUDA_LIBS="-L$cclz_cuda_dir/lib64 -Wl,-rpath,$cclz_cuda_dir/lib64 -lcudart -lstdc++"
    AC_DEFINE([CCLZ_HAVE_CUDA], [1], [CUDA support is built])
  ], [cclz_cuda_dir=])
  AC_ARG_VAR([NVCC_FLAGS], [extra nvcc flags (default: -O3 for sm_80 and sm_90)])
  AS_IF([test -z "$NVCC_FLAGS"], [NVCC_FLAGS="-O3 -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90"])
  AC_SUBST([NVCC])
  AC_SUBST([CUDA_CFLAGS])
  AC_SUBST([CUDA_LIBS])
  AM_CONDITIONAL([HAVE_CUDA], [test "x$cclz_have_cuda" = xyes])
])
