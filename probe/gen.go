package probe

// Regenerate netctl_bpfel.go and netctl_bpfel.o, the product's programs, from
// ../bpf/netctl.c with `go generate ./probe/...` (or `make generate`); the same run
// regenerates the benchmark-only programs of ../bpf/bench.c in internal/benchprog. The
// outputs are committed; CI checks that regenerating changes nothing. See
// ../bpf/README.md for the toolchain.
//
//go:generate go tool bpf2go -cc clang-19 -target bpfel -type nc_totals_key -type nc_totals_value -type nc_flow_key -type nc_flow_value -type nc_flow_slot -type nc_rx_port -type nc_flood_key -type nc_flood_value -type nc_direction -type nc_stat -cflags "-O2 -mcpu=v3 -g -Wall -Werror -I../bpf/include -I../bpf" netctl ../bpf/netctl.c
