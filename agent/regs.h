/* regs.h: byte offsets of struct guest_regs (agent.c: rax, rcx, rdx, rbx, rsp (unused), rbp, rsi,
 * rdi, r8..r15), for the assembly that loads and saves guest registers (entry.S, direct.S). */
#ifndef AGENT_REGS_H
#define AGENT_REGS_H

#define R_RAX 0
#define R_RCX 8
#define R_RDX 16
#define R_RBX 24
#define R_RBP 40
#define R_RSI 48
#define R_RDI 56
#define R_R8  64
#define R_R9  72
#define R_R10 80
#define R_R11 88
#define R_R12 96
#define R_R13 104
#define R_R14 112
#define R_R15 120

#endif
