# SPDX-License-Identifier: LGPL-2.1-or-later
# AX_PTHREAD_SIMPLE: find the flags for POSIX threads (glibc: -pthread).
AC_DEFUN([AX_PTHREAD_SIMPLE], [
  AC_MSG_CHECKING([whether $CC accepts -pthread])
  gm_save_CFLAGS="$CFLAGS"
  CFLAGS="$CFLAGS -pthread"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>]],
                                  [[pthread_t t; (void)pthread_create(&t, 0, 0, 0);]])],
    [PTHREAD_CFLAGS="-pthread"; PTHREAD_LIBS="-pthread"; AC_MSG_RESULT([yes])],
    [PTHREAD_CFLAGS=""; PTHREAD_LIBS="-lpthread"; AC_MSG_RESULT([no, using -lpthread])])
  CFLAGS="$gm_save_CFLAGS"
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])
