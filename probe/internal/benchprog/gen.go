// Package benchprog holds the benchmark-only tc programs of ../../../bpf/bench.c: the
// empty baseline, and the product's program with other flow maps or taken apart.
// bpf2go compiles them into bench_bpfel.go and bench_bpfel.o (committed; regenerate
// with `make generate`). Only probe's tests and benchmarks import this package, so the
// product binary does not carry these programs.
package benchprog

//go:generate go tool bpf2go -cc clang-19 -target bpfel -cflags "-O2 -mcpu=v3 -g -Wall -Werror -I../../../bpf/include -I../../../bpf" Bench ../../../bpf/bench.c
