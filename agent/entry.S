/* entry.S: the 64-bit entry (stack, bss, agent_main), vmx_enter / vmx_exit_entry (guest GPRs in a
 * struct guest_regs; returns 0 after a VM exit, 1 VMfailInvalid, 2 VMfailValid) and the host
 * exception stubs that hand every host fault to host_fault(). */

#define STACK_TOP 0x0f0a0000
#define VMCS_HOST_RSP 0x6c14

#include "regs.h"

	.code64
	.section .text.entry, "ax"
	.globl agent_entry
agent_entry:
	mov $STACK_TOP, %esp
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %rdi, %rcx
	xor %eax, %eax
	cld
	rep stosb
	call agent_main
1:	cli
	hlt
	jmp 1b

	.text
/* int vmx_enter(struct guest_regs *regs, int launched) */
	.globl vmx_enter
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi
	mov $VMCS_HOST_RSP, %eax
	vmwrite %rsp, %rax
	test %esi, %esi
	mov R_RAX(%rdi), %rax
	mov R_RCX(%rdi), %rcx
	mov R_RDX(%rdi), %rdx
	mov R_RBX(%rdi), %rbx
	mov R_RBP(%rdi), %rbp
	mov R_RSI(%rdi), %rsi
	mov R_R8(%rdi), %r8
	mov R_R9(%rdi), %r9
	mov R_R10(%rdi), %r10
	mov R_R11(%rdi), %r11
	mov R_R12(%rdi), %r12
	mov R_R13(%rdi), %r13
	mov R_R14(%rdi), %r14
	mov R_R15(%rdi), %r15
	mov R_RDI(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* VM entry failed: CF = VMfailInvalid, ZF = VMfailValid; mov/pop keep the flags */
	pop %rdi
	mov $1, %eax
	jc 3f
	mov $2, %eax
3:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.globl vmx_exit_entry
vmx_exit_entry:
	push %rdi
	mov 8(%rsp), %rdi
	mov %rax, R_RAX(%rdi)
	mov %rcx, R_RCX(%rdi)
	mov %rdx, R_RDX(%rdi)
	mov %rbx, R_RBX(%rdi)
	mov %rbp, R_RBP(%rdi)
	mov %rsi, R_RSI(%rdi)
	mov %r8, R_R8(%rdi)
	mov %r9, R_R9(%rdi)
	mov %r10, R_R10(%rdi)
	mov %r11, R_R11(%rdi)
	mov %r12, R_R12(%rdi)
	mov %r13, R_R13(%rdi)
	mov %r14, R_R14(%rdi)
	mov %r15, R_R15(%rdi)
	pop %rax
	mov %rax, R_RDI(%rdi)
	pop %rdi
	xor %eax, %eax
	jmp 3b

/* Host exception stubs: push a zero error code where the CPU pushes none, then the vector. */
	.macro EXC_NOERR vec
exc_\vec:
	push $0
	push $\vec
	jmp exc_common
	.endm
	.macro EXC_ERR vec
exc_\vec:
	push $\vec
	jmp exc_common
	.endm

	EXC_NOERR 0
	EXC_NOERR 1
	EXC_NOERR 2
	EXC_NOERR 3
	EXC_NOERR 4
	EXC_NOERR 5
	EXC_NOERR 6
	EXC_NOERR 7
	EXC_ERR 8
	EXC_NOERR 9
	EXC_ERR 10
	EXC_ERR 11
	EXC_ERR 12
	EXC_ERR 13
	EXC_ERR 14
	EXC_NOERR 15
	EXC_NOERR 16
	EXC_ERR 17
	EXC_NOERR 18
	EXC_NOERR 19
	EXC_NOERR 20
	EXC_ERR 21
	EXC_NOERR 22
	EXC_NOERR 23
	EXC_NOERR 24
	EXC_NOERR 25
	EXC_NOERR 26
	EXC_NOERR 27
	EXC_NOERR 28
	EXC_ERR 29
	EXC_ERR 30
	EXC_NOERR 31

exc_common:
	mov %rsp, %rdi                   /* [vector, error, rip, cs, rflags, rsp, ss] */
	and $-16, %rsp
	call host_fault
4:	cli
	hlt
	jmp 4b

	.section .rodata
	.p2align 3
	.globl exc_stubs
exc_stubs:
	.quad exc_0, exc_1, exc_2, exc_3, exc_4, exc_5, exc_6, exc_7
	.quad exc_8, exc_9, exc_10, exc_11, exc_12, exc_13, exc_14, exc_15
	.quad exc_16, exc_17, exc_18, exc_19, exc_20, exc_21, exc_22, exc_23
	.quad exc_24, exc_25, exc_26, exc_27, exc_28, exc_29, exc_30, exc_31
