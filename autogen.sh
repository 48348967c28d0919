#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Regenerate the build system from a clean clone.
set -e
cd "$(dirname "$0")"
autoreconf -fi
