/* direct.S: direct mode's way in and out of a guest step (PROTOCOL.md "Direct mode").
 * direct_enter() (agent code) jumps to the code page at slot 511, which loads the guest's EFER,
 * CR4, CR0 and CR3 and IRETQs to the guest instruction at its CPL with RFLAGS.TF; the
 * instruction's fault or single-step trap comes through the slot-511 IDT to direct_common, which
 * saves the guest's registers, control registers and the event, restores the agent's and returns
 * from direct_enter. The blob [direct_code, direct_code_end) is position independent: agent.c
 * copies it to the code page. An event outside a guest step (the agent's own fault) goes to the
 * C function in DD_HOST_FAULT with the usual [vector, error, rip, ...] frame. */
#include "direct.h"

#define MSR_EFER 0xc0000080
#define HOST_SEL_DATA 0x10
#include "regs.h"

	.code64
	.text
/* void direct_enter(void): one guest step as the data page describes it */
	.globl direct_enter
direct_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	movabs $DIRECT_DATA_LA, %rbx
	mov %rsp, DD_H_RSP(%rbx)
	movabs $(DIRECT_CODE_LA + (tramp_in - direct_code)), %rax
	jmp *%rax

	.section .rodata.direct, "a"
	.p2align 4
	.globl direct_code
direct_code:
tramp_in:
	/* agent CR3, on the slot-511 stack: the IRETQ frame first, then the guest's state */
	movabs $DIRECT_STACK_TOP_LA, %rsp
	pushq DD_G_SS(%rbx)
	pushq DD_G_RSP(%rbx)
	pushq DD_G_RFLAGS(%rbx)
	pushq DD_G_CS(%rbx)
	pushq DD_G_RIP(%rbx)
	mov $MSR_EFER, %ecx
	mov DD_G_EFER(%rbx), %eax
	mov DD_G_EFER+4(%rbx), %edx
	wrmsr
	mov DD_G_CR4(%rbx), %rax
	mov %rax, %cr4
	mov DD_G_CR0(%rbx), %rax
	mov %rax, %cr0
	mov DD_G_CR3(%rbx), %rax
	mov %rax, %cr3
	movq $1, DD_IN_GUEST(%rbx)
	mov DD_REGS+R_RAX(%rbx), %rax
	mov DD_REGS+R_RCX(%rbx), %rcx
	mov DD_REGS+R_RDX(%rbx), %rdx
	mov DD_REGS+R_RBP(%rbx), %rbp
	mov DD_REGS+R_RSI(%rbx), %rsi
	mov DD_REGS+R_RDI(%rbx), %rdi
	mov DD_REGS+R_R8(%rbx), %r8
	mov DD_REGS+R_R9(%rbx), %r9
	mov DD_REGS+R_R10(%rbx), %r10
	mov DD_REGS+R_R11(%rbx), %r11
	mov DD_REGS+R_R12(%rbx), %r12
	mov DD_REGS+R_R13(%rbx), %r13
	mov DD_REGS+R_R14(%rbx), %r14
	mov DD_REGS+R_R15(%rbx), %r15
	mov DD_REGS+R_RBX(%rbx), %rbx
	iretq

/* The agent's CR4 first (PGE off: every TLB entry of the guest goes, globals too), then its
 * CR3, EFER, CR0 and data segments. rbx = the data page. */
restore_host:
	mov DD_H_CR4(%rbx), %rax
	mov %rax, %cr4
	mov DD_H_CR3(%rbx), %rax
	mov %rax, %cr3
	mov $MSR_EFER, %ecx
	mov DD_H_EFER(%rbx), %eax
	mov DD_H_EFER+4(%rbx), %edx
	wrmsr
	mov DD_H_CR0(%rbx), %rax
	mov %rax, %cr0
	mov $HOST_SEL_DATA, %eax
	mov %eax, %ss
	mov %eax, %ds
	mov %eax, %es
	ret

direct_common:                          /* stack: vector, error, rip, cs, rflags, rsp, ss */
	push %rbx
	movabs $DIRECT_DATA_LA, %rbx
	cmpq $0, DD_IN_GUEST(%rbx)
	je host_event
	movq $0, DD_IN_GUEST(%rbx)
	mov %rax, DD_REGS+R_RAX(%rbx)
	mov %rcx, DD_REGS+R_RCX(%rbx)
	mov %rdx, DD_REGS+R_RDX(%rbx)
	mov %rbp, DD_REGS+R_RBP(%rbx)
	mov %rsi, DD_REGS+R_RSI(%rbx)
	mov %rdi, DD_REGS+R_RDI(%rbx)
	mov %r8, DD_REGS+R_R8(%rbx)
	mov %r9, DD_REGS+R_R9(%rbx)
	mov %r10, DD_REGS+R_R10(%rbx)
	mov %r11, DD_REGS+R_R11(%rbx)
	mov %r12, DD_REGS+R_R12(%rbx)
	mov %r13, DD_REGS+R_R13(%rbx)
	mov %r14, DD_REGS+R_R14(%rbx)
	mov %r15, DD_REGS+R_R15(%rbx)
	mov 0(%rsp), %rax
	mov %rax, DD_REGS+R_RBX(%rbx)
	mov 8(%rsp), %rax
	mov %rax, DD_X_VEC(%rbx)
	mov 16(%rsp), %rax
	mov %rax, DD_X_ERR(%rbx)
	mov 24(%rsp), %rax
	mov %rax, DD_X_RIP(%rbx)
	mov 32(%rsp), %rax
	mov %rax, DD_X_CS(%rbx)
	mov %cr2, %rax
	mov %rax, DD_X_CR2(%rbx)
	mov %cr0, %rax
	mov %rax, DD_G_CR0(%rbx)
	mov %cr3, %rax
	mov %rax, DD_G_CR3(%rbx)
	mov %cr4, %rax
	mov %rax, DD_G_CR4(%rbx)
	mov $MSR_EFER, %ecx
	rdmsr
	mov %eax, DD_G_EFER(%rbx)
	mov %edx, DD_G_EFER+4(%rbx)
	call restore_host
	mov DD_H_RSP(%rbx), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

host_event:                             /* the agent's own fault: back to its state, then C */
	call restore_host
	lea 8(%rsp), %rdi                   /* [vector, error, rip, cs, rflags, rsp, ss] */
	and $-16, %rsp
	mov DD_HOST_FAULT(%rbx), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

/* Vector stubs, DIRECT_VEC_STRIDE bytes apart: a zero error code where the CPU pushes none. */
	.macro DVEC_NOERR vec
	.p2align 4
	push $0
	push $\vec
	jmp direct_common
	.endm
	.macro DVEC_ERR vec
	.p2align 4
	push $\vec
	jmp direct_common
	.endm

	.p2align 4
	.globl direct_vectors
direct_vectors:
	DVEC_NOERR 0
	DVEC_NOERR 1
	DVEC_NOERR 2
	DVEC_NOERR 3
	DVEC_NOERR 4
	DVEC_NOERR 5
	DVEC_NOERR 6
	DVEC_NOERR 7
	DVEC_ERR 8
	DVEC_NOERR 9
	DVEC_ERR 10
	DVEC_ERR 11
	DVEC_ERR 12
	DVEC_ERR 13
	DVEC_ERR 14
	DVEC_NOERR 15
	DVEC_NOERR 16
	DVEC_ERR 17
	DVEC_NOERR 18
	DVEC_NOERR 19
	DVEC_NOERR 20
	DVEC_ERR 21
	DVEC_NOERR 22
	DVEC_NOERR 23
	DVEC_NOERR 24
	DVEC_NOERR 25
	DVEC_NOERR 26
	DVEC_NOERR 27
	DVEC_NOERR 28
	DVEC_ERR 29
	DVEC_ERR 30
	DVEC_NOERR 31
	.p2align 4
	.globl direct_code_end
direct_code_end:
