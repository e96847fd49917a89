# zlib.m4: zlib is required: a compressor's checkpoint carries its CRC-32 (crc32_z).
AC_DEFUN([CCLZ_CHECK_ZLIB], [
  PKG_CHECK_MODULES([ZLIB], [zlib], [], [ZLIB_CFLAGS=""; ZLIB_LIBS="-lz"])
  save_CPPFLAGS=$CPPFLAGS; save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $ZLIB_CFLAGS"; LIBS="$LIBS $ZLIB_LIBS"
  AC_CHECK_HEADER([zlib.h], [],
    [AC_MSG_ERROR([zlib.h not found: install zlib1g-dev (apt-get install zlib1g-dev)])])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <zlib.h>]], [[return (int)crc32_z(0, 0, 0);]])],
    [], [AC_MSG_ERROR([zlib >= 1.2.9 with crc32_z is required])])
  CPPFLAGS=$save_CPPFLAGS; LIBS=$save_LIBS
  AC_SUBST([ZLIB_CFLAGS])
  AC_SUBST([ZLIB_LIBS])
])
