#!/bin/sh
# autogen.sh: generates ./configure from configure.ac (needs autoconf, automake, libtool).
set -e
cd "$(dirname "$0")"
mkdir -p config/aux
autoreconf -fi
