#!/bin/sh
# Stand-in: install the packages a list names (one a line, # comments allowed).
set -e
apt-get update
apt-get install --no-install-recommends -y $(sed 's/#.*//' "$1")
