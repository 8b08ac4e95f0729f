/* direct.h: direct mode (PROTOCOL.md "Direct mode"), the agent without VMX. The layout of the
 * pages the harness maps at guest PML4 slot 511 (the stub's page table, entries 2..7), shared by
 * direct.S and agent.c. */
#ifndef AGENT_DIRECT_H
#define AGENT_DIRECT_H

/* Linear addresses (canonical) of slot 511's pages: 0 and 1 are the stub's code page
 * (supervisor, user), the rest are agent frames. */
#define DIRECT_SLOT_LA    0xffffff8000000000
#define DIRECT_CODE_LA    (DIRECT_SLOT_LA + 0x2000)
#define DIRECT_IDT_LA     (DIRECT_SLOT_LA + 0x3000)
#define DIRECT_GDT_LA     (DIRECT_SLOT_LA + 0x4000)
#define DIRECT_DATA_LA    (DIRECT_SLOT_LA + 0x5000)
#define DIRECT_STACK_TOP_LA (DIRECT_SLOT_LA + 0x8000)
#define DIRECT_TSS_OFF    0x800        /* the TSS in the GDT page */
#define DIRECT_GUEST_RSP  (DIRECT_STACK_TOP_LA - 0x400) /* a CPL 0 guest's RSP: its faults push here */

/* Host-physical frames (agent region) of those pages, and of the agent's own slot-511 tables. */
#define DIRECT_CODE       0x0f0e0000
#define DIRECT_IDT        0x0f0e1000
#define DIRECT_GDT        0x0f0e2000
#define DIRECT_DATA       0x0f0e3000
#define DIRECT_STACK      0x0f0e4000   /* two pages */
#define DIRECT_HOST_PDPT  0x0f0e6000
#define DIRECT_HOST_PD    0x0f0e7000
#define DIRECT_HOST_PT    0x0f0e8000
#define DIRECT_END        0x0f0e9000
/* Protection key 15 (PTE bits 62:59) on pages 2..7: under CR4.PKS the event delivery's stack and
 * data accesses need IA32_PKRS to allow key 15 (the lowering stops a trace before it forbids it). */
#define DIRECT_PKEY       0x7800000000000000UL

/* The data page (struct direct_data in agent.c): offsets direct.S uses. */
#define DD_H_RSP    0x00
#define DD_H_CR0    0x08
#define DD_H_CR3    0x10
#define DD_H_CR4    0x18
#define DD_H_EFER   0x20
#define DD_G_CR0    0x28
#define DD_G_CR3    0x30
#define DD_G_CR4    0x38
#define DD_G_EFER   0x40
#define DD_G_RIP    0x48
#define DD_G_CS     0x50
#define DD_G_RFLAGS 0x58
#define DD_G_RSP    0x60
#define DD_G_SS     0x68
#define DD_X_VEC    0x70
#define DD_X_ERR    0x78
#define DD_X_CR2    0x80
#define DD_X_RIP    0x88
#define DD_X_CS     0x90
#define DD_IN_GUEST 0x98
#define DD_HOST_FAULT 0xa0
#define DD_REGS     0xa8               /* struct guest_regs: rax, rcx, ... r15 (16 x 8) */

#define DIRECT_VEC_STRIDE 16           /* bytes per vector stub in the code page */

#endif
