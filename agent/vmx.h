/* vmx.h: named VMCS field encodings, VMX control bits, exit reasons and MSRs, plus the small
 * inline helpers (hw_vmcs_read/hw_vmcs_write, VMX instructions, MSR/CPUID access) the agent uses. */
#ifndef AGENT_VMX_H
#define AGENT_VMX_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

/* ---- MSRs ---- */
#define MSR_IA32_FEATURE_CONTROL   0x0000003a
#define MSR_IA32_PAT               0x00000277
#define MSR_IA32_VMX_BASIC         0x00000480
#define MSR_IA32_VMX_PINBASED      0x00000481
#define MSR_IA32_VMX_PROCBASED     0x00000482
#define MSR_IA32_VMX_EXIT          0x00000483
#define MSR_IA32_VMX_ENTRY         0x00000484
#define MSR_IA32_VMX_MISC          0x00000485
#define MSR_IA32_VMX_CR0_FIXED0    0x00000486
#define MSR_IA32_VMX_CR0_FIXED1    0x00000487
#define MSR_IA32_VMX_CR4_FIXED0    0x00000488
#define MSR_IA32_VMX_CR4_FIXED1    0x00000489
#define MSR_IA32_VMX_PROCBASED2    0x0000048b
#define MSR_IA32_VMX_EPT_VPID_CAP  0x0000048c
#define MSR_IA32_VMX_TRUE_PIN      0x0000048d
#define MSR_IA32_VMX_TRUE_PROC     0x0000048e
#define MSR_IA32_VMX_TRUE_EXIT     0x0000048f
#define MSR_IA32_VMX_TRUE_ENTRY    0x00000490
#define MSR_IA32_PKRS              0x000006e1
#define MSR_IA32_EFER              0xc0000080

#define VMX_BASIC_REVISION_MASK    0x7fffffffUL
#define VMX_BASIC_TRUE_CTLS        (1UL << 55)

#define FEATURE_CONTROL_LOCKED           (1UL << 0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1UL << 2)

/* ---- control registers ---- */
#define CR0_PE   (1UL << 0)
#define CR0_MP   (1UL << 1)
#define CR0_ET   (1UL << 4)
#define CR0_NE   (1UL << 5)
#define CR0_WP   (1UL << 16)
#define CR0_NW   (1UL << 29)
#define CR0_CD   (1UL << 30)
#define CR0_PG   (1UL << 31)
#define CR4_PAE  (1UL << 5)
#define CR4_PGE  (1UL << 7)
#define CR4_VMXE (1UL << 13)
#define CR4_OSFXSR (1UL << 9)
#define CR4_OSXSAVE (1UL << 18)
#define CR4_SMEP (1UL << 20)
#define CR4_PKE  (1UL << 22)
#define EFER_LME (1UL << 8)
#define EFER_LMA (1UL << 10)
#define EFER_NXE (1UL << 11)
#define RFLAGS_FIXED1 (1UL << 1)
#define RFLAGS_CF     (1UL << 0)
#define RFLAGS_ZF     (1UL << 6)
#define RFLAGS_TF     (1UL << 8)
#define RFLAGS_AC     (1UL << 18)

/* ---- 16-bit fields ---- */
#define VMCS_VPID               0x0000
#define VMCS_GUEST_ES_SEL       0x0800
#define VMCS_GUEST_CS_SEL       0x0802
#define VMCS_GUEST_SS_SEL       0x0804
#define VMCS_GUEST_DS_SEL       0x0806
#define VMCS_GUEST_FS_SEL       0x0808
#define VMCS_GUEST_GS_SEL       0x080a
#define VMCS_GUEST_LDTR_SEL     0x080c
#define VMCS_GUEST_TR_SEL       0x080e
#define VMCS_HOST_ES_SEL        0x0c00
#define VMCS_HOST_CS_SEL        0x0c02
#define VMCS_HOST_SS_SEL        0x0c04
#define VMCS_HOST_DS_SEL        0x0c06
#define VMCS_HOST_FS_SEL        0x0c08
#define VMCS_HOST_GS_SEL        0x0c0a
#define VMCS_HOST_TR_SEL        0x0c0c

/* ---- 64-bit fields ---- */
#define VMCS_MSR_BITMAP         0x2004
#define VMCS_EPTP               0x201a
#define VMCS_SPPTP              0x2030
#define VMCS_GUEST_PHYS_ADDR    0x2400
#define VMCS_LINK_POINTER       0x2800
#define VMCS_GUEST_DEBUGCTL     0x2802
#define VMCS_GUEST_PAT          0x2804
#define VMCS_GUEST_EFER         0x2806
#define VMCS_HOST_PAT           0x2c00
#define VMCS_HOST_EFER          0x2c02

/* ---- 32-bit fields ---- */
#define VMCS_PIN_CTLS           0x4000
#define VMCS_PROC_CTLS          0x4002
#define VMCS_EXC_BITMAP         0x4004
#define VMCS_PF_ERR_MASK        0x4006
#define VMCS_PF_ERR_MATCH       0x4008
#define VMCS_CR3_TARGET_COUNT   0x400a
#define VMCS_EXIT_CTLS          0x400c
#define VMCS_EXIT_MSR_STORE_CNT 0x400e
#define VMCS_EXIT_MSR_LOAD_CNT  0x4010
#define VMCS_ENTRY_CTLS         0x4012
#define VMCS_ENTRY_MSR_LOAD_CNT 0x4014
#define VMCS_ENTRY_INTR_INFO    0x4016
#define VMCS_PROC_CTLS2         0x401e
#define VMCS_VM_INSTR_ERROR     0x4400
#define VMCS_EXIT_REASON        0x4402
#define VMCS_EXIT_INTR_INFO     0x4404
#define VMCS_EXIT_INTR_ERROR    0x4406
#define VMCS_GUEST_ES_LIMIT     0x4800
#define VMCS_GUEST_CS_LIMIT     0x4802
#define VMCS_GUEST_SS_LIMIT     0x4804
#define VMCS_GUEST_DS_LIMIT     0x4806
#define VMCS_GUEST_FS_LIMIT     0x4808
#define VMCS_GUEST_GS_LIMIT     0x480a
#define VMCS_GUEST_LDTR_LIMIT   0x480c
#define VMCS_GUEST_TR_LIMIT     0x480e
#define VMCS_GUEST_GDTR_LIMIT   0x4810
#define VMCS_GUEST_IDTR_LIMIT   0x4812
#define VMCS_GUEST_ES_AR        0x4814
#define VMCS_GUEST_CS_AR        0x4816
#define VMCS_GUEST_SS_AR        0x4818
#define VMCS_GUEST_DS_AR        0x481a
#define VMCS_GUEST_FS_AR        0x481c
#define VMCS_GUEST_GS_AR        0x481e
#define VMCS_GUEST_LDTR_AR      0x4820
#define VMCS_GUEST_TR_AR        0x4822
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY     0x4826
#define VMCS_GUEST_SYSENTER_CS  0x482a
#define VMCS_PREEMPT_TIMER      0x482e
#define VMCS_HOST_SYSENTER_CS   0x4c00

/* ---- natural-width fields ---- */
#define VMCS_CR0_MASK           0x6000
#define VMCS_CR4_MASK           0x6002
#define VMCS_CR0_SHADOW         0x6004
#define VMCS_CR4_SHADOW         0x6006
#define VMCS_EXIT_QUAL          0x6400
#define VMCS_GUEST_LINEAR_ADDR  0x640a
#define VMCS_GUEST_CR0          0x6800
#define VMCS_GUEST_CR3          0x6802
#define VMCS_GUEST_CR4          0x6804
#define VMCS_GUEST_ES_BASE      0x6806
#define VMCS_GUEST_CS_BASE      0x6808
#define VMCS_GUEST_SS_BASE      0x680a
#define VMCS_GUEST_DS_BASE      0x680c
#define VMCS_GUEST_FS_BASE      0x680e
#define VMCS_GUEST_GS_BASE      0x6810
#define VMCS_GUEST_LDTR_BASE    0x6812
#define VMCS_GUEST_TR_BASE      0x6814
#define VMCS_GUEST_GDTR_BASE    0x6816
#define VMCS_GUEST_IDTR_BASE    0x6818
#define VMCS_GUEST_DR7          0x681a
#define VMCS_GUEST_RSP          0x681c
#define VMCS_GUEST_RIP          0x681e
#define VMCS_GUEST_RFLAGS       0x6820
#define VMCS_GUEST_PENDING_DBG  0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0           0x6c00
#define VMCS_HOST_CR3           0x6c02
#define VMCS_HOST_CR4           0x6c04
#define VMCS_HOST_FS_BASE       0x6c06
#define VMCS_HOST_GS_BASE       0x6c08
#define VMCS_HOST_TR_BASE       0x6c0a
#define VMCS_HOST_GDTR_BASE     0x6c0c
#define VMCS_HOST_IDTR_BASE     0x6c0e
#define VMCS_HOST_SYSENTER_ESP  0x6c10
#define VMCS_HOST_SYSENTER_EIP  0x6c12
#define VMCS_HOST_RSP           0x6c14
#define VMCS_HOST_RIP           0x6c16

/* ---- pin-based controls ---- */
#define PIN_PREEMPT_TIMER       (1U << 6)

/* ---- primary processor-based controls ---- */
#define PROC_HLT_EXITING        (1U << 7)
#define PROC_INVLPG_EXITING     (1U << 9)
#define PROC_CR3_LOAD_EXITING   (1U << 15)
#define PROC_CR3_STORE_EXITING  (1U << 16)
#define PROC_UNCOND_IO_EXITING  (1U << 24)
#define PROC_MTF                (1U << 27)
#define PROC_MSR_BITMAPS        (1U << 28)
#define PROC_SECONDARY          (1U << 31)

/* ---- secondary processor-based controls ---- */
#define PROC2_EPT               (1U << 1)
#define PROC2_VPID              (1U << 5)
#define PROC2_UNRESTRICTED      (1U << 7)
#define PROC2_MBEC              (1U << 22)
#define PROC2_SPP               (1U << 23)

/* ---- exit / entry controls ---- */
#define EXIT_HOST_ADDR_SPACE    (1U << 9)
#define EXIT_SAVE_EFER          (1U << 20)
#define EXIT_LOAD_EFER          (1U << 21)
#define ENTRY_IA32E_GUEST       (1U << 9)
#define ENTRY_LOAD_EFER         (1U << 15)

/* ---- exit reasons ---- */
#define EXIT_REASON_EXCEPTION   0
#define EXIT_REASON_TRIPLE_FAULT 2
#define EXIT_REASON_CR_ACCESS   28
#define EXIT_REASON_MTF         37
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_EPT_MISCONFIG 49
#define EXIT_REASON_PREEMPT_TIMER 52
#define EXIT_REASON_SPP         66
#define EXIT_REASON_BASIC_MASK  0xffffU
#define EXIT_REASON_ENTRY_FAIL  (1U << 31)

/* ---- exit interruption information ---- */
#define INTR_INFO_VECTOR_MASK   0xffU
#define INTR_INFO_ERROR_VALID   (1U << 11)
#define INTR_INFO_VALID         (1U << 31)

/* ---- EPT-violation qualification bits ---- */
#define EPT_QUAL_FETCH          (1UL << 2)
#define EPT_QUAL_GLA_VALID      (1UL << 7)
#define EPT_QUAL_XLAT           (1UL << 8)

/* ---- exception vectors ---- */
#define VEC_DB                  1
#define VEC_GP                  13
#define VEC_PF                  14
#define PFERR_W                 (1UL << 1)
#define PFERR_I                 (1UL << 4)

/* ---- INVEPT / INVVPID types ---- */
#define INVEPT_ALL_CONTEXT      2
#define INVVPID_ALL_CONTEXT     2

/* VM-instruction status from the flags (CF = VMfailInvalid, ZF = VMfailValid). */
#define VMX_OK                  0
#define VMX_FAIL_INVALID        1
#define VMX_FAIL_VALID          2

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 val)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)val), "d"((u32)(val >> 32)) : "memory");
}

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u64 read_cr0(void) { u64 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr0(u64 v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u64 v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static inline void wrpkru(u32 val)
{
	asm volatile("wrpkru" : : "a"(val), "c"(0), "d"(0) : "memory");
}

/* The VMX instructions return VMX_OK, VMX_FAIL_INVALID or VMX_FAIL_VALID. */
static inline int vmx_status(u64 rflags)
{
	if (rflags & RFLAGS_CF)
		return VMX_FAIL_INVALID;
	if (rflags & RFLAGS_ZF)
		return VMX_FAIL_VALID;
	return VMX_OK;
}

static inline int vmxon(u64 pa)
{
	u64 fl;
	asm volatile("vmxon %1; pushf; pop %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
	return vmx_status(fl);
}

static inline int vmclear(u64 pa)
{
	u64 fl;
	asm volatile("vmclear %1; pushf; pop %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
	return vmx_status(fl);
}

static inline int vmptrld(u64 pa)
{
	u64 fl;
	asm volatile("vmptrld %1; pushf; pop %0" : "=r"(fl) : "m"(pa) : "cc", "memory");
	return vmx_status(fl);
}

static inline u64 hw_vmcs_read(u64 field)
{
	u64 v;
	asm volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
	return v;
}

static inline int hw_vmcs_write(u64 field, u64 val)
{
	u64 fl;
	asm volatile("vmwrite %1, %2; pushf; pop %0" : "=r"(fl) : "r"(val), "r"(field) : "cc", "memory");
	return vmx_status(fl);
}

static inline int invept(u64 type, const u64 desc[2])
{
	u64 fl;
	asm volatile("invept %1, %2; pushf; pop %0" : "=r"(fl) : "m"(*(const u64 (*)[2])desc), "r"(type) : "cc", "memory");
	return vmx_status(fl);
}

static inline int invvpid(u64 type, const u64 desc[2])
{
	u64 fl;
	asm volatile("invvpid %1, %2; pushf; pop %0" : "=r"(fl) : "m"(*(const u64 (*)[2])desc), "r"(type) : "cc", "memory");
	return vmx_status(fl);
}

#endif
