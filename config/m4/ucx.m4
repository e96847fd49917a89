# ucx.m4: UCX is required: --with-ucx=DIR points at a non-system install.
AC_DEFUN([CCLZ_CHECK_UCX], [
  AC_ARG_WITH([ucx], [AS_HELP_STRING([--with-ucx=DIR], [UCX install prefix (required)])],
              [], [with_ucx=yes])
  AS_IF([test "x$with_ucx" = xno], [AC_MSG_ERROR([UCX is required: cclz has no other transport])])
  AS_IF([test "x$with_ucx" != xyes], [
    UCX_CFLAGS="-I$with_ucx/include"
    UCX_LIBS="-L$with_ucx/lib -Wl,-rpath,$with_ucx/lib -lucp -luct -lucs"
  ], [
    PKG_CHECK_MODULES([UCX], [ucx], [], [UCX_CFLAGS=""; UCX_LIBS="-lucp -luct -lucs"])
  ])
  save_CPPFLAGS=$CPPFLAGS; save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $UCX_CFLAGS"; LIBS="$LIBS $UCX_LIBS"
  AC_CHECK_HEADER([ucp/api/ucp.h], [],
    [AC_MSG_ERROR([ucp/api/ucp.h not found: install libucx-dev (apt-get install libucx-dev)])])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <ucp/api/ucp.h>]], [[ucp_tag_send_nbx(0,0,0,0,0);]])],
    [], [AC_MSG_ERROR([UCX >= 1.10 with ucp_tag_send_nbx is required])])
  CPPFLAGS=$save_CPPFLAGS; LIBS=$save_LIBS
  cclz_ucx_summary="yes"
  AC_SUBST([UCX_CFLAGS])
  AC_SUBST([UCX_LIBS])
])
