#!/usr/bin/env bash
# Writes large seed inputs for fuzzer NAME into DIR (a scratch corpus, never the checked-in one),
# so that every run executes and mutates inputs near the 1 MB limit: 100,000 nested brackets for
# the JSON readers (the input that crashed error messages), a 1 MB flat array, and ~1 MB tables
# for the text readers. libFuzzer alone grows inputs from a few bytes and would not reach them.
#
#   bash tests/fuzz/large_seeds.sh NAME DIR
set -euo pipefail
name=$1
dir=$2
mkdir -p "$dir"
repeat() { # repeat TEXT COUNT
  local out=$1 n=$2 acc=""
  while ((n > 0)); do
    if ((n & 1)); then acc+=$out; fi
    out+=$out
    n=$((n >> 1))
  done
  printf '%s' "$acc"
}
case $name in
  model_json | hf_config | tokenizer_json | safetensors_index)
    { repeat '[' 100000; repeat ']' 100000; } >"$dir/large_deep_nesting.json"
    { printf '{"weights": ['; repeat '0.5,' 250000; printf '0]}'; } >"$dir/large_flat_array.json"
    ;;
  csv)
    { printf 'a,b,c,y\n'; repeat $'0.25,1e-3,-7,1\n' 60000; } >"$dir/large_table.csv"
    ;;
  tu_dataset)
    { repeat $'1,2\n2,1\n' 50000; printf '\0'; repeat $'1\n' 2; printf '\0'; printf '1\n\0'; repeat $'0\n' 2; } >"$dir/large_edges.txt"
    ;;
  smiles)
    { printf 'smiles,y\n'; repeat $'c1ccc(cc1)C(=O)[O-],1\n' 50000; } >"$dir/large_table.csv"
    { repeat 'C(C' 150000; repeat ')' 150000; } >"$dir/large_branches.smi"
    ;;
  gnn_model)
    { printf 'attrib-gcn 1\n0 0 1000 100 1 2\n1000 100'; repeat ' 0.015625' 100000; printf '\n100'; repeat ' 0' 100;
      printf '\n100 2'; repeat ' 1' 200; printf '\n2 0 0\n'; } >"$dir/large_gcn.txt"
    ;;
esac
