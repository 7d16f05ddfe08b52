/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Names the installed UAPI headers may lack. Debian 12's linux-libc-dev carries the
 * 6.1 headers, older than the kernels we run on; TCX (Linux 6.6) added the names
 * below. Values are the kernel's ABI and never change. Newer headers define them, so
 * the block is skipped there.
 */
#ifndef NETCTL_COMPAT_H
#define NETCTL_COMPAT_H

#include <linux/bpf.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
/* From include/uapi/linux/bpf.h of Linux 6.6. */
enum tcx_action_base {
	TCX_NEXT = -1,    /* run the next program; same value as TC_ACT_UNSPEC */
	TCX_PASS = 0,     /* stop here, let the packet through */
	TCX_DROP = 2,     /* stop here, drop the packet */
	TCX_REDIRECT = 7, /* stop here, the program redirected the packet */
};
#endif

#endif /* NETCTL_COMPAT_H */
