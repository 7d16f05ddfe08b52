/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * <asm/bitsperlong.h> for the BPF target. The host's copy lives in a per-arch directory
 * (/usr/include/x86_64-linux-gnu/asm, /usr/include/aarch64-linux-gnu/asm, ...) and
 * describes the host CPU; BPF is its own arch, for which the asm-generic definitions
 * are the right ones (int-ll64 types, __BITS_PER_LONG = 64 from the compiler).
 * See bpf/README.md.
 */
#ifndef NETCTL_ASM_BITSPERLONG_H
#define NETCTL_ASM_BITSPERLONG_H
#include <asm-generic/bitsperlong.h>
#endif
