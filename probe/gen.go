package probe

// Regenerate counter_bpfel.go and counter_bpfel.o from ../bpf/counter.c with
// `go generate ./probe` (or `make generate`). The outputs are committed; CI checks
// that regenerating changes nothing. See ../bpf/README.md for the toolchain.
//
//go:generate go tool bpf2go -cc clang-19 -target bpfel -type counter_key -type counter_value -type counter_direction -cflags "-O2 -g -Wall -Werror -I../bpf/include" counter ../bpf/counter.c
