#!/usr/bin/env bash
# copy_sources.sh SRC DEST: the tracked files of the tree at SRC (all of it outside git) into
# DEST, made ready to configure, for the tests that build a second configuration.
set -u
src=$1 dest=$2
(cd "$src" && git ls-files -z 2>/dev/null | xargs -0 cp --parents -t "$dest") 2>/dev/null ||
    cp -r "$src"/. "$dest"
(cd "$dest" && make distclean >/dev/null 2>&1)
exit 0
