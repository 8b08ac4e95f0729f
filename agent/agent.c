/* agent.c: the eptfuzz guest agent (VMM). Sets up the host (GDT, IDT, page tables in the agent
 * region), reads the batch from disk, prints the H line, enters VMX operation and runs every trace
 * of the batch in an L2 guest, one instruction per entry, printing PROTOCOL.md result lines. */
#include "agent.h"
#include "direct.h"

/* ---- linker symbols ---- */
extern char __agent_start[], __ro_end[];

/* ---- entry.S ---- */
struct guest_regs {
	u64 rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
};
int vmx_enter(struct guest_regs *regs, int launched);
void vmx_exit_entry(void);
extern const u64 exc_stubs[32];
void direct_enter(void);
extern const char direct_code[], direct_code_end[], direct_vectors[];
void agent_main(void);
void host_fault(const u64 *frame);

/* ---- host descriptor tables ---- */
#define HOST_SEL_CODE   0x08
#define HOST_SEL_DATA   0x10
#define HOST_SEL_TSS    0x18
#define GDT_CODE64      0x00209b0000000000UL  /* accessed preset: the CPU never writes it */
#define GDT_DATA        0x00cf93000000ffffUL
#define TSS_LIMIT       0x67
#define TSS_TYPE_AVAIL  0x89UL            /* present, 64-bit TSS available */
#define IDT_GATE_INTR   0x8e00UL          /* present, DPL 0, 64-bit interrupt gate */
#define HOST_EXC_VECTORS 32

/* ---- paging ---- */
#define PTE_P           (1UL << 0)
#define PTE_RW          (1UL << 1)
#define PTE_A           (1UL << 5)
#define PTE_D           (1UL << 6)
#define PTE_PS          (1UL << 7)
#define PAGE_2M         0x200000UL
#define ENTRIES_PER_TABLE 512

/* ---- guest machine shape (docs/semantics.md "Machine shape") ---- */
#define GUEST_CR0_INIT  0x80010001UL
#define GUEST_CR4_INIT  0x20UL
#define GUEST_EFER_INIT 0xd00UL
#define GUEST_RFLAGS_INIT RFLAGS_FIXED1
#define GUEST_SEL_CODE  0x08
#define GUEST_SEL_STACK 0x10
#define GUEST_SEL_DATA  0x10
#define GUEST_SEL_TR    0x18
#define GUEST_AR_CODE64 0xa09bUL          /* exec/read accessed, S, P, L, G; DPL at bits 6:5 */
#define GUEST_AR_STACK  0xc093UL          /* data RW accessed, S, P, D/B, G; DPL at bits 6:5 */
#define GUEST_AR_DATA   0xc0f3UL          /* data RW accessed, DPL 3, P, D/B, G */
#define GUEST_AR_TR     0x008bUL          /* busy 64-bit TSS, P */
#define GUEST_AR_UNUSABLE (1UL << 16)
#define AR_DPL_SHIFT    5
#define GUEST_LIMIT_FLAT 0xffffffffUL
#define GUEST_TR_LIMIT  0x67
#define GUEST_DESC_LIMIT 0xffff
#define DR7_INIT        0x400UL
#define VMCS_LINK_NONE  0xffffffffffffffffUL
#define GUEST_VPID      1
#define FETCH_GPR_VALUE 0x8000000000000000UL /* non-canonical: register memory operands #GP */

/* ---- stub page (PROTOCOL.md) ---- */
#define STUB_READ1      0x10
#define STUB_READ2      0x20
#define STUB_READ4      0x30
#define STUB_READ8      0x40
#define STUB_WRITE1     0x50
#define STUB_WRITE2     0x60
#define STUB_WRITE4     0x70
#define STUB_WRITE8     0x80
#define STUB_INVLPG     0x90
#define STUB_MOV_CR0    0xa0
#define STUB_MOV_CR3    0xb0
#define STUB_MOV_CR4    0xc0
#define STUB_WRMSR      0xd0
#define STUB_INSN_LEN   3                 /* the longest stub instruction */

/* ---- address helpers ---- */
#define LA_MASK         0x0000ffffffffffffUL
#define LA_SIGN_BIT     (1UL << 47)
#define EPT_PRESENT_MASK 0x7UL
#define EPT_XU          (1UL << 10)
#define SPPT_PRESENT    (1UL << 0)
#define PAGE_MASK       (~(PAGE_SIZE - 1))

/* ---- watch compare ---- */
#define WORDS_PER_FRAME (PAGE_SIZE / 8)

/* ---- checksum (FNV-1a over 64-bit words) ---- */
#define FNV_OFFSET      0xcbf29ce484222325UL
#define FNV_PRIME       0x100000001b3UL

/* ---- path-op results ---- */
#define PATH_OK         0
#define PATH_NOENT      1
#define PATH_RESERVED   2

static u64 host_gdt[5] __attribute__((aligned(16)));
static u64 host_idt[2 * HOST_EXC_VECTORS] __attribute__((aligned(16)));
static u8 host_tss[128] __attribute__((aligned(16)));

/* ---- capabilities read at boot ---- */
static u64 cap_basic, cap_pin, cap_proc, cap_proc2, cap_exit, cap_entry, cap_ept_vpid;
static u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
static u32 hw_maxphyaddr;
static u64 agent_checksum;
static int host_vmx;              /* CPUID.1:ECX.VMX: without it the batch stops with "novmx" */
static int host_pku;
static int host_pks;              /* CPUID.7.0:ECX[31] */
static int host_avx2;             /* the full compare uses 32-byte AVX2 compares */

/* ---- AVX2 for the full compare (Bochs reads memory per access: 32 bytes cost about one word) ---- */
#define CPUID1_ECX_XSAVE (1U << 26)
#define CPUID1_ECX_AVX  (1U << 28)
#define CPUID7_EBX_AVX2 (1U << 5)
#define XCR0_X87_SSE_AVX 0x7U

/* ---- direct mode (PROTOCOL.md "Direct mode"): no VMX; the guest-state VMCS fields the ops
 * read and write are plain memory (SOFT_VMCS), and a guest entry is direct_enter ---- */
static int direct_mode;
static int direct_wanted;         /* the batch asks for direct mode (BATCH_FLAG_DIRECT) */
static u64 *const soft_vmcs = (u64 *)SOFT_VMCS;

static u64 vmcs_read(u64 field)
{
	return direct_mode ? soft_vmcs[field & (SOFT_VMCS_FIELDS - 1)] : hw_vmcs_read(field);
}

static int vmcs_write(u64 field, u64 val)
{
	if (!direct_mode)
		return hw_vmcs_write(field, val);
	soft_vmcs[field & (SOFT_VMCS_FIELDS - 1)] = val;
	return VMX_OK;
}

/* ---- batch-wide values ---- */
static u64 ram_end;
static u64 addr_mask;             /* bits [maxphyaddr-1:12] */

/* ---- per-trace state ---- */
static u32 pin_ctls, proc_ctls, exit_ctls, entry_ctls;
static u32 cur_ctls2;
static u64 cur_eptp, cur_spptp;
static u32 cur_cpl;
static u64 cur_ac;
static u32 cur_pkru;
static u64 stub_sup, stub_user;
static u64 cr0_mask, cr4_mask, cr0_shadow;
static int launched;
static int context_dirty;         /* the guest may have changed what write_guest_context writes */
static int vmcs_cpl;              /* the CPL the VMCS guest CS/SS hold, or -1 */
#define PKRU_UNKNOWN    (~0UL)
static u64 loaded_pkru = PKRU_UNKNOWN;  /* the PKRU value last written, or unknown */
static const u32 *prev_watch;
static u32 prev_nwatch;
static int watch_dups;            /* this trace's watch list names a frame twice */

/* What the last op may have written: nothing, one host-physical range (a host op), the words of
 * the step's write set (a guest entry, see "step write set"), or anything (full compare). */
enum touch_kind { TOUCH_NONE, TOUCH_RANGE, TOUCH_SET, TOUCH_ALL };
static enum touch_kind touch_kind;
static u64 touch_hpa, touch_len;
static int op_entered;            /* the current op entered the guest */
static u32 trace_entries;         /* ops of this trace that entered the guest */
static int full_compare_due;      /* a guest entry since the last compare of every watched word */

static void touch_range(u64 hpa, u64 len)
{
	touch_kind = TOUCH_RANGE;
	touch_hpa = hpa;
	touch_len = len;
}

/* ---- step write set ---- */
#define WSET_MAX        256               /* words; more: a full compare for that step */
#define HASH_MUL        0x9e3779b97f4a7c15UL
#define FULL_COMPARE_EVERY 64             /* every 64th guest entry compares every watched word */
#define TLB_HIST_MAX    128               /* more pairs: full compares for the rest of the trace */
#define NO_HPA          (~0UL)

/* Bochs flushes its whole TLB at every VM entry and exit, so every page the agent touches per
 * step costs a page walk: the write set keeps its bookkeeping in a few pages (the watch indices
 * of the frames it touches, one stamp page per such frame, the words' values before the entry)
 * and reads a shadow only on a change. A word is in the set when its stamp is the set's: the
 * stamps of a watch-list frame's words sit at WSET_STAMP + index * 1 KiB, and a set's stamp is
 * new (1..65535, then all stamps are cleared and it starts again at 1). */
static u16 *const frame_watch = (u16 *)FRAME_WATCH;
static u8 *const watch_bitmap = (u8 *)WATCH_BITMAP;
static u16 *const wset_stamp = (u16 *)WSET_STAMP;
static u16 wset_stamp_now;
static u32 wset_n;
static int wset_overflow;
static u64 wset_hpa[WSET_MAX];
static u64 wset_pre[WSET_MAX];

/* Every (linear page, host page) translation a walk of this trace found since the last flush of
 * the whole TLB: a TLB entry the trace did not invalidate may still send an access there. */
struct tlb_pair {
	u64 la_page, hpa_page;
};
static struct tlb_pair tlb_hist[TLB_HIST_MAX];
static u32 tlb_hist_n;
static int tlb_hist_full;

struct exit_info {
	int status;          /* VMX_OK: a VM exit happened (see reason) */
	u32 reason;
	u64 qual, gpa, gla, rip;
	u32 intr_info, intr_err;
	u64 instr_error;
};

/* ---------------------------------------------------------------------------------------- */

static u64 canon(u64 la)
{
	la &= LA_MASK;
	if (la & LA_SIGN_BIT)
		la |= ~LA_MASK;
	return la;
}

static u64 checksum_range(u64 h, u64 start, u64 end)
{
	for (const u64 *p = (const u64 *)start; p < (const u64 *)end; p++)
		h = (h ^ *p) * FNV_PRIME;
	return h;
}

/* What the checksum covers: the agent's code and read-only data, host page tables, GDT and IDT,
 * and in direct mode the slot-511 code, IDT, GDT and page tables. */
#define CHECKED_MAX     6
static u32 checked_ranges(u64 start[CHECKED_MAX], u64 end[CHECKED_MAX])
{
	u32 n = 0;

	start[n] = (u64)__agent_start, end[n++] = (u64)__ro_end & ~7UL;
	start[n] = HOST_PML4, end[n++] = HOST_PT_END;
	start[n] = (u64)host_gdt, end[n++] = (u64)host_gdt + sizeof(host_gdt);
	start[n] = (u64)host_idt, end[n++] = (u64)host_idt + sizeof(host_idt);
	if (direct_mode) {
		start[n] = DIRECT_CODE, end[n++] = DIRECT_DATA;
		start[n] = DIRECT_HOST_PDPT, end[n++] = DIRECT_END;
	}
	return n;
}

static u64 agent_sum(void)
{
	u64 start[CHECKED_MAX], end[CHECKED_MAX], h = FNV_OFFSET;
	u32 n = checked_ranges(start, end);

	for (u32 k = 0; k < n; k++)
		h = checksum_range(h, start[k], end[k]);
	return h;
}

static u32 first_diff(const u64 *a, const u64 *b, u32 n);
static int check_copy_ok;         /* CHECK_COPY holds what agent_sum covers */

/* Takes the checksum of the agent and a copy of what it covers. */
static void agent_check_begin(void)
{
	u64 start[CHECKED_MAX], end[CHECKED_MAX], at = CHECK_COPY;
	u32 n = checked_ranges(start, end);

	agent_checksum = agent_sum();
	check_copy_ok = 0;
	for (u32 k = 0; k < n; k++)
		at += end[k] - start[k];
	if (at > CHECK_COPY_END)
		return;
	at = CHECK_COPY;
	for (u32 k = 0; k < n; k++) {
		memcpy((void *)at, (const void *)start[k], end[k] - start[k]);
		at += end[k] - start[k];
	}
	check_copy_ok = 1;
}

/* Whether the agent is as agent_check_begin found it. The checksum decides; comparing with the
 * copy (32 bytes per instruction with AVX2) is the fast way to find that nothing changed, and
 * only a difference from the copy (the agent, or the copy itself, was written) computes it. */
static int agent_intact(void)
{
	u64 start[CHECKED_MAX], end[CHECKED_MAX], at = CHECK_COPY;
	u32 n = checked_ranges(start, end), k;

	for (k = 0; check_copy_ok && k < n; k++) {
		u32 words = (end[k] - start[k]) / 8;

		if (words && first_diff((const u64 *)start[k], (const u64 *)at, words) != words)
			break;
		at += end[k] - start[k];
	}
	if (check_copy_ok && k == n)
		return 1;
	if (agent_sum() != agent_checksum)
		return 0;
	agent_check_begin();      /* the copy was written, not the agent: copy again */
	return 1;
}

static void out_line_end(void) { out_char('\n'); }

/* ---- step outcomes ---- */
#define STEP_LINE_MAX   256               /* an S line is shorter: it is never split by a flush */
#define SKIP_TEXT_MAX   120               /* of a skip line, what the report line repeats */

static struct outcome step_outcome;       /* what the current step's S line says */
static unsigned long step_text_mark;      /* where its text after "S step " starts in the stream */

/* Starts the current step's S line: "S step " then `what`. A line started here and not finished
 * by emit_outcome is a skip (its text is read back for the report line). */
static void out_step(u32 step, const char *what)
{
	out_reserve(STEP_LINE_MAX);
	out_str("S ");
	out_hex(step);
	out_char(' ');
	step_text_mark = out_mark();
	step_outcome.kind = OUTCOME_SKIP;
	out_str(what);
}

/* An outcome in the S line's words: "ok", "data V", "pf CODE CR2", "exit R QUAL GPA GLA|-", "gp",
 * "vmfail E", "noent". */
static void out_outcome(const struct outcome *o)
{
	switch (o->kind) {
	case OUTCOME_OK:
		out_str("ok");
		break;
	case OUTCOME_DATA:
		out_str("data");
		out_sp_hex(o->a);
		break;
	case OUTCOME_PF:
		out_str("pf");
		out_sp_hex(o->a);
		out_sp_hex(o->b);
		break;
	case OUTCOME_EXIT:
		out_str("exit");
		out_sp_hex(o->a);
		out_sp_hex(o->b);
		out_sp_hex(o->c);
		if (o->gla_valid)
			out_sp_hex(o->d);
		else
			out_str(" -");
		break;
	case OUTCOME_GP:
		out_str("gp");
		break;
	case OUTCOME_VMFAIL:
		out_str("vmfail");
		out_sp_hex(o->a);
		break;
	case OUTCOME_NOENT:
		out_str("noent");
		break;
	default:
		out_str("nothing");
		break;
	}
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *put_sp_hex(char *p, u64 v)
{
	*p++ = ' ';
	return out_put_hex(p, v);
}

/* The S line of a step that ran: "S step OUTCOME"; it is the step's outcome for the report.
 * Written straight into the output buffer (the line is shorter than STEP_LINE_MAX), in the words
 * of out_outcome. */
static void emit_outcome(u32 step, const struct outcome *o)
{
	char *p;

	if (out_teeing()) {
		out_step(step, "");
		out_outcome(o);
		out_line_end();
		step_outcome = *o;
		return;
	}
	out_reserve(STEP_LINE_MAX);
	p = out_ptr();
	*p++ = 'S';
	p = put_sp_hex(p, step);
	*p++ = ' ';
	switch (o->kind) {
	case OUTCOME_OK:
		p = put_str(p, "ok");
		break;
	case OUTCOME_DATA:
		p = put_sp_hex(put_str(p, "data"), o->a);
		break;
	case OUTCOME_PF:
		p = put_sp_hex(put_sp_hex(put_str(p, "pf"), o->a), o->b);
		break;
	case OUTCOME_EXIT:
		p = put_sp_hex(put_sp_hex(put_sp_hex(put_str(p, "exit"), o->a), o->b), o->c);
		p = o->gla_valid ? put_sp_hex(p, o->d) : put_str(p, " -");
		break;
	case OUTCOME_GP:
		p = put_str(p, "gp");
		break;
	case OUTCOME_VMFAIL:
		p = put_sp_hex(put_str(p, "vmfail"), o->a);
		break;
	case OUTCOME_NOENT:
		p = put_str(p, "noent");
		break;
	default:
		p = put_str(p, "nothing");
		break;
	}
	*p++ = '\n';
	out_commit(p);
	step_outcome = *o;
}

static void emit_simple(u32 step, u8 kind)
{
	struct outcome o = { .kind = kind };

	emit_outcome(step, &o);
}

static void emit_value(u32 step, u8 kind, u64 a)
{
	struct outcome o = { .kind = kind, .a = a };

	emit_outcome(step, &o);
}

/* ---- the export report (PROTOCOL.md "Expectations") ---- */
static int report_on;             /* the batch has BATCH_FLAG_EXPECT */
static u64 report_steps;          /* steps of the traces started */
static u64 report_ok, report_bad, report_not_run;
static u32 report_first_bad;
static const char *report_stop;   /* why the agent stopped the batch early, or 0 */

/* A line of the agent's own (not the protocol's): to the stream and to COM1. */
static void agent_say(const char *line)
{
	out_tee_serial(1);
	out_str(line);
	out_line_end();
	out_tee_serial(0);
}

/* Whether `got` is `want`: every field of its kind, the GLA only when both have one. */
static int outcome_matches(const struct outcome *got, const struct outcome *want)
{
	if (got->kind != want->kind)
		return 0;
	switch (got->kind) {
	case OUTCOME_DATA:
	case OUTCOME_VMFAIL:
		return got->a == want->a;
	case OUTCOME_PF:
		return got->a == want->a && got->b == want->b;
	case OUTCOME_EXIT:
		return got->a == want->a && got->b == want->b && got->c == want->c &&
		       (!got->gla_valid || !want->gla_valid || got->d == want->d);
	}
	return 1;
}

/* "step N: expected A | B; got X: ok|MISMATCH" (N decimal), or "...; got skip WHY: not run" for a
 * step the agent could not run (skip_text: the S line's words from "skip"). */
static void report_step(u32 step, const struct outcome *want, u32 nwant, const char *skip_text,
			unsigned long skip_len)
{
	int ok = 0;

	out_tee_serial(1);
	out_str("step ");
	out_dec(step);
	out_str(": expected ");
	if (!nwant)
		out_str("nothing");
	for (u32 k = 0; k < nwant; k++) {
		if (k)
			out_str(" | ");
		out_outcome(&want[k]);
		if (outcome_matches(&step_outcome, &want[k]))
			ok = 1;
	}
	out_str("; got ");
	if (step_outcome.kind == OUTCOME_SKIP) {
		for (unsigned long i = 0; i < skip_len; i++)
			out_char(skip_text[i]);
		out_str(": not run\n");
		report_not_run++;
	} else {
		out_outcome(&step_outcome);
		if (ok) {
			out_str(": ok\n");
			report_ok++;
		} else {
			out_str(": MISMATCH\n");
			if (!report_bad)
				report_first_bad = step;
			report_bad++;
		}
	}
	out_tee_serial(0);
}

/* "step F..L: not run": steps [from, to) the trace never reached. */
static void report_rest(u32 from, u32 to)
{
	if (from >= to)
		return;
	out_tee_serial(1);
	out_str("step ");
	out_dec(from);
	if (to - from > 1) {
		out_str("..");
		out_dec(to - 1);
	}
	out_str(": not run\n");
	out_tee_serial(0);
	report_not_run += to - from;
}

/* "PASS (N steps as expected)" or "FAIL (K of N steps differ; first: step M)", each with
 * "; R not run" when steps did not run, or "FAIL (the agent stopped: WHY)". */
static void report_verdict(void)
{
	out_tee_serial(1);
	if (report_stop) {
		out_str("FAIL (the agent stopped: ");
		out_str(report_stop);
		out_char(')');
	} else if (report_bad) {
		out_str("FAIL (");
		out_dec(report_bad);
		out_str(" of ");
		out_dec(report_steps);
		out_str(" steps differ; first: step ");
		out_dec(report_first_bad);
	} else {
		out_str("PASS (");
		out_dec(report_ok);
		out_str(" steps as expected");
	}
	if (!report_stop && report_not_run) {
		out_str("; ");
		out_dec(report_not_run);
		out_str(" not run");
	}
	if (!report_stop)
		out_char(')');
	out_line_end();
	out_tee_serial(0);
}

/* Guest single steps that ended by an MTF exit, and by the single-step #DB (step_done). */
static u32 steps_by_mtf, steps_by_db;

/* Ends the batch: the verdict of an export image, how guest single steps ended (Bochs finding F6:
 * an MTF exit never comes after a VM entry, the RFLAGS.TF #DB does), "D", the stream flushed, the
 * machine off. */
static void finish_batch(void) __attribute__((noreturn));
static void finish_batch(void)
{
	if (report_on)
		report_verdict();
	out_str("H steps_by_mtf=");
	out_hex(steps_by_mtf);
	out_str(" steps_by_db=");
	out_hex(steps_by_db);
	out_line_end();
	out_tee_serial(report_on);
	out_str("D\n");
	out_tee_serial(0);
	out_flush();
	out_progress("D", 0, 0);
	shutdown();
}

/* A problem that is no one op's: "S 0 skip WHY", then the end of the batch. */
static void stop_batch(const char *why) __attribute__((noreturn));
static void stop_batch(const char *why)
{
	out_str("S 0 skip ");
	out_str(why);
	out_line_end();
	report_stop = why;
	finish_batch();
}

void host_fault(const u64 *frame)
{
	out_str("\nS 0 skip hostfault");
	out_sp_hex(frame[0]);
	out_sp_hex(frame[1]);
	out_sp_hex(frame[2]);
	if (frame[0] == VEC_PF) {
		u64 cr2;
		asm volatile("mov %%cr2, %0" : "=r"(cr2));
		out_sp_hex(cr2);
	}
	out_line_end();
	report_stop = "hostfault";
	finish_batch();
}

/* ---------------------------------------------------------------------------------------- */
/* host setup */

static void setup_descriptors(void)
{
	u64 tss = (u64)host_tss;
	struct { u16 limit; u64 base; } __attribute__((packed)) gdtr, idtr;

	host_gdt[0] = 0;
	host_gdt[1] = GDT_CODE64;
	host_gdt[2] = GDT_DATA;
	host_gdt[3] = TSS_LIMIT | ((tss & 0xffffff) << 16) | (TSS_TYPE_AVAIL << 40) |
		      ((tss >> 24) & 0xff) << 56;
	host_gdt[4] = tss >> 32;
	for (int v = 0; v < HOST_EXC_VECTORS; v++) {
		u64 h = exc_stubs[v];
		host_idt[2 * v] = (h & 0xffff) | ((u64)HOST_SEL_CODE << 16) | (IDT_GATE_INTR << 32) |
				  ((h >> 16) & 0xffff) << 48;
		host_idt[2 * v + 1] = h >> 32;
	}
	gdtr.limit = sizeof(host_gdt) - 1;
	gdtr.base = (u64)host_gdt;
	idtr.limit = sizeof(host_idt) - 1;
	idtr.base = (u64)host_idt;
	asm volatile("lgdt %0" : : "m"(gdtr));
	asm volatile("lidt %0" : : "m"(idtr));
	asm volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:"
		     : : "i"(HOST_SEL_CODE) : "rax", "memory");
	asm volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss; mov %0, %%fs; mov %0, %%gs"
		     : : "r"((u32)HOST_SEL_DATA));
	asm volatile("ltr %w0" : : "r"((u16)HOST_SEL_TSS));
}

static void setup_paging(void)
{
	u64 *pml4 = (u64 *)HOST_PML4, *pdpt = (u64 *)HOST_PDPT, *pd = (u64 *)HOST_PD;
	u32 a, b, c, d;
	u64 cr4;

	memset(pml4, 0, HOST_PT_END - HOST_PML4);
	/* A and D preset so the CPU never writes these (they are checksummed) */
	pml4[0] = HOST_PDPT | PTE_P | PTE_RW | PTE_A;
	for (int i = 0; i < HOST_PD_COUNT; i++)
		pdpt[i] = (HOST_PD + i * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A;
	for (u64 i = 0; i < HOST_PD_COUNT * ENTRIES_PER_TABLE; i++)
		pd[i] = (i * PAGE_2M) | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D;

	cpuid(7, 0, &a, &b, &c, &d);
	host_pku = (c & (1U << 3)) != 0;
	host_pks = (c & (1U << 31)) != 0;
	host_avx2 = (b & CPUID7_EBX_AVX2) != 0;
	cpuid(1, 0, &a, &b, &c, &d);
	if ((c & (CPUID1_ECX_XSAVE | CPUID1_ECX_AVX)) != (CPUID1_ECX_XSAVE | CPUID1_ECX_AVX) ||
	    (CR4_OSFXSR | CR4_OSXSAVE) & ~cr4_fixed1)
		host_avx2 = 0;
	/* CR4.PKE stays 0 on the host (and in HOST_CR4): Bochs 2.7 applies PKRU to the agent's own
	 * supervisor accesses otherwise. set_guest_pkru turns it on only for its WRPKRU. */
	cr4 = CR4_PAE | (host_vmx ? CR4_VMXE : 0) | (host_avx2 ? CR4_OSFXSR | CR4_OSXSAVE : 0);
	cr4 = (cr4 | cr4_fixed0) & cr4_fixed1;
	write_cr4(cr4);
	if (host_avx2)
		asm volatile("xsetbv" : : "c"(0), "a"(XCR0_X87_SSE_AVX), "d"(0));
	write_cr3(HOST_PML4);
	write_cr0((read_cr0() | CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG | cr0_fixed0) &
		  ~(CR0_CD | CR0_NW) & cr0_fixed1);
}

static void read_caps(void)
{
	u32 a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	host_vmx = (c & CPUID1_ECX_VMX) != 0;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	hw_maxphyaddr = a & 0xff;
	if (!host_vmx) {
		/* no VMX MSRs to read: CR0 and CR4 have no VMX constraints */
		cr0_fixed1 = cr4_fixed1 = ~0UL;
		return;
	}
	cap_basic = rdmsr(MSR_IA32_VMX_BASIC);
	if (cap_basic & VMX_BASIC_TRUE_CTLS) {
		cap_pin = rdmsr(MSR_IA32_VMX_TRUE_PIN);
		cap_proc = rdmsr(MSR_IA32_VMX_TRUE_PROC);
		cap_exit = rdmsr(MSR_IA32_VMX_TRUE_EXIT);
		cap_entry = rdmsr(MSR_IA32_VMX_TRUE_ENTRY);
	} else {
		cap_pin = rdmsr(MSR_IA32_VMX_PINBASED);
		cap_proc = rdmsr(MSR_IA32_VMX_PROCBASED);
		cap_exit = rdmsr(MSR_IA32_VMX_EXIT);
		cap_entry = rdmsr(MSR_IA32_VMX_ENTRY);
	}
	cap_proc2 = rdmsr(MSR_IA32_VMX_PROCBASED2);
	cap_ept_vpid = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
}

static void print_h_line(void)
{
	u32 a, b, c, d;

	cpuid(7, 0, &a, &b, &c, &d);
	out_str("H vmx_basic=");
	out_hex(cap_basic);
	out_str(" procbased2=");
	out_hex(cap_proc2 >> 32);
	out_str(" ept_vpid_cap=");
	out_hex(cap_ept_vpid);
	out_str(" cpuid7ecx=");
	out_hex(c);
	out_str(" cpuid7ebx=");
	out_hex(b);
	out_str(" maxphyaddr=");
	out_hex(hw_maxphyaddr);
	out_line_end();
}

/* A control value with the allowed-0 bits forced on and the disallowed bits off. */
static u32 adjust_ctls(u32 want, u64 cap)
{
	return (want | (u32)cap) & (u32)(cap >> 32);
}

static void enter_vmx(void)
{
	u64 fc;

	if (!host_vmx) {
		agent_say("agent: no VMX on this CPU (CPUID.1:ECX.VMX is 0)");
		stop_batch("novmx");
	}
	fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCKED))
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED |
		      FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
	else if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
		agent_say("agent: VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked)");
		stop_batch("vmxon");
	}
	memset((void *)VMXON_REGION, 0, PAGE_SIZE);
	memset((void *)MSR_BITMAP, 0, PAGE_SIZE);
	*(u32 *)VMXON_REGION = cap_basic & VMX_BASIC_REVISION_MASK;
	if (vmxon(VMXON_REGION) != VMX_OK) {
		agent_say("agent: VMXON failed");
		stop_batch("vmxon");
	}
	pin_ctls = adjust_ctls(0, cap_pin);
	proc_ctls = adjust_ctls(PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING | PROC_MSR_BITMAPS |
				PROC_SECONDARY, cap_proc) & ~(PROC_CR3_LOAD_EXITING |
				PROC_CR3_STORE_EXITING | PROC_INVLPG_EXITING | PROC_MTF);
	exit_ctls = adjust_ctls(EXIT_HOST_ADDR_SPACE | EXIT_SAVE_EFER | EXIT_LOAD_EFER, cap_exit);
	entry_ctls = adjust_ctls(ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER, cap_entry);
	cr0_mask = cr0_fixed0 & 0xffffffffUL;
	cr4_mask = cr4_fixed0 & 0xffffffffUL;
}

/* ---------------------------------------------------------------------------------------- */
/* direct mode: descriptor tables, stack and code at guest PML4 slot 511 (PROTOCOL.md) */

struct direct_data {
	u64 h_rsp, h_cr0, h_cr3, h_cr4, h_efer;
	u64 g_cr0, g_cr3, g_cr4, g_efer;
	u64 g_rip, g_cs, g_rflags, g_rsp, g_ss;
	u64 x_vec, x_err, x_cr2, x_rip, x_cs;
	u64 in_guest;
	u64 host_fault;
	struct guest_regs regs;
};
_Static_assert(__builtin_offsetof(struct direct_data, g_cr0) == DD_G_CR0, "direct.h DD_G_CR0");
_Static_assert(__builtin_offsetof(struct direct_data, x_vec) == DD_X_VEC, "direct.h DD_X_VEC");
_Static_assert(__builtin_offsetof(struct direct_data, in_guest) == DD_IN_GUEST, "direct.h DD_IN_GUEST");
_Static_assert(__builtin_offsetof(struct direct_data, regs) == DD_REGS, "direct.h DD_REGS");
static struct direct_data *const direct = (struct direct_data *)DIRECT_DATA;

/* GDT of direct mode: the host's three selectors, then code and data for CPL 1, 2 and 3 (64-bit
 * code, accessed preset so the CPU never writes a descriptor). */
#define DIRECT_GDT_ENTRIES 11
#define GDT_DPL_SHIFT   45
#define GDT_DATA_FLAT   0x00cf93000000ffffUL
static u64 direct_sel_code(u32 cpl) { return cpl == 0 ? HOST_SEL_CODE : (0x28 + 0x10 * (cpl - 1)) | cpl; }
static u64 direct_sel_data(u32 cpl) { return cpl == 0 ? HOST_SEL_DATA : (0x30 + 0x10 * (cpl - 1)) | cpl; }

/* Maps slot 511 in the agent's own tables exactly as the harness maps it in the trace's (PT
 * entries 2..7; supervisor, A and D preset, no XD), fills the pages and loads GDTR, IDTR, TR. */
static void setup_direct(void)
{
	u64 *pdpt = (u64 *)DIRECT_HOST_PDPT, *pd = (u64 *)DIRECT_HOST_PD, *pt = (u64 *)DIRECT_HOST_PT;
	u64 *gdt = (u64 *)DIRECT_GDT, *idt = (u64 *)DIRECT_IDT;
	u64 tss = DIRECT_GDT_LA + DIRECT_TSS_OFF;
	static const u64 frames[6] = { DIRECT_CODE, DIRECT_IDT, DIRECT_GDT, DIRECT_DATA, DIRECT_STACK,
				       DIRECT_STACK + PAGE_SIZE };
	struct { u16 limit; u64 base; } __attribute__((packed)) gdtr, idtr;

	direct_mode = 1;
	memset((void *)DIRECT_CODE, 0, DIRECT_END - DIRECT_CODE);
	memset((void *)SOFT_VMCS, 0, SOFT_VMCS_FIELDS * 8);
	pdpt[0] = DIRECT_HOST_PD | PTE_P | PTE_RW | PTE_A;
	pd[0] = DIRECT_HOST_PT | PTE_P | PTE_RW | PTE_A;
	for (int k = 0; k < 6; k++)
		pt[2 + k] = frames[k] | PTE_P | PTE_RW | PTE_A | PTE_D | DIRECT_PKEY;
	((u64 *)HOST_PML4)[ENTRIES_PER_TABLE - 1] = DIRECT_HOST_PDPT | PTE_P | PTE_RW | PTE_A;
	write_cr3(HOST_PML4);
	memcpy((void *)DIRECT_CODE, direct_code, direct_code_end - direct_code);

	gdt[1] = GDT_CODE64;
	gdt[2] = GDT_DATA;
	gdt[3] = TSS_LIMIT | ((tss & 0xffffff) << 16) | (TSS_TYPE_AVAIL << 40) | ((tss >> 24) & 0xff) << 56;
	gdt[4] = tss >> 32;
	for (u64 cpl = 1; cpl <= 3; cpl++) {
		gdt[5 + 2 * (cpl - 1)] = GDT_CODE64 | cpl << GDT_DPL_SHIFT;
		gdt[6 + 2 * (cpl - 1)] = GDT_DATA_FLAT | cpl << GDT_DPL_SHIFT;
	}
	*(u64 *)(DIRECT_GDT + DIRECT_TSS_OFF + 4) = DIRECT_STACK_TOP_LA;      /* RSP0 */
	*(u16 *)(DIRECT_GDT + DIRECT_TSS_OFF + 0x66) = TSS_LIMIT + 1;        /* no I/O bitmap */
	for (int v = 0; v < HOST_EXC_VECTORS; v++) {
		u64 h = DIRECT_CODE_LA + (u64)(direct_vectors - direct_code) + (u64)v * DIRECT_VEC_STRIDE;

		idt[2 * v] = (h & 0xffff) | ((u64)HOST_SEL_CODE << 16) | (IDT_GATE_INTR << 32) |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
	direct->host_fault = (u64)host_fault;
	gdtr.limit = DIRECT_GDT_ENTRIES * 8 - 1;
	gdtr.base = DIRECT_GDT_LA;
	idtr.limit = HOST_EXC_VECTORS * 16 - 1;
	idtr.base = DIRECT_IDT_LA;
	asm volatile("lgdt %0" : : "m"(gdtr));
	asm volatile("lidt %0" : : "m"(idtr));
	asm volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:"
		     : : "i"(HOST_SEL_CODE) : "rax", "memory");
	asm volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss; mov %0, %%fs; mov %0, %%gs"
		     : : "r"((u32)HOST_SEL_DATA));
	asm volatile("ltr %w0" : : "r"((u16)HOST_SEL_TSS));
	/* what direct.S restore_host loads after every guest step and on an event outside one */
	direct->h_cr0 = read_cr0();
	direct->h_cr3 = read_cr3();
	direct->h_cr4 = read_cr4();
	direct->h_efer = rdmsr(MSR_IA32_EFER);
	/* the guest's CR0 and CR4 are its own: no VMX fixed bits apply */
	cr0_fixed0 = cr4_fixed0 = 0;
	cr0_fixed1 = cr4_fixed1 = ~0UL;
	cr0_mask = cr4_mask = 0;
}

/* One guest instruction without VMX: the guest state of the soft VMCS and the CPL go to the data
 * page, direct_enter runs the instruction, and its event comes back as an "exception exit"
 * (vector, error code, CR2 as the qualification of a #PF, RIP), so the ops judge it as under VMX. */
static void run_guest_direct(struct guest_regs *regs, u64 rip, u32 cpl, struct exit_info *ex)
{
	/* direct->h_*: the agent's own CR0/CR3/CR4/EFER, set once by setup_direct (the agent never
	 * changes them; set_guest_pkru restores CR4 before returning) */
	direct->g_cr0 = vmcs_read(VMCS_GUEST_CR0);
	direct->g_cr3 = vmcs_read(VMCS_GUEST_CR3);
	direct->g_cr4 = vmcs_read(VMCS_GUEST_CR4);
	direct->g_efer = vmcs_read(VMCS_GUEST_EFER);
	direct->g_rip = rip;
	direct->g_cs = direct_sel_code(cpl);
	direct->g_ss = direct_sel_data(cpl);
	direct->g_rsp = DIRECT_GUEST_RSP;
	direct->g_rflags = GUEST_RFLAGS_INIT | cur_ac | RFLAGS_TF;
	direct->regs = *regs;
	direct->in_guest = 0;
	direct_enter();
	*regs = direct->regs;
	vmcs_write(VMCS_GUEST_CR0, direct->g_cr0);
	vmcs_write(VMCS_GUEST_CR3, direct->g_cr3);
	vmcs_write(VMCS_GUEST_CR4, direct->g_cr4);
	vmcs_write(VMCS_GUEST_EFER, direct->g_efer);
	ex->status = VMX_OK;
	ex->reason = EXIT_REASON_EXCEPTION;
	ex->intr_info = INTR_INFO_VALID | (u32)(direct->x_vec & INTR_INFO_VECTOR_MASK);
	ex->intr_err = direct->x_err;
	ex->qual = direct->x_vec == VEC_PF ? direct->x_cr2 : 0;
	ex->gpa = ex->gla = 0;
	ex->rip = direct->x_rip;
	ex->instr_error = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* VMCS */

static void write_host_state(void)
{
	vmcs_write(VMCS_HOST_CR0, read_cr0());
	vmcs_write(VMCS_HOST_CR3, read_cr3());
	vmcs_write(VMCS_HOST_CR4, read_cr4());
	vmcs_write(VMCS_HOST_ES_SEL, HOST_SEL_DATA);
	vmcs_write(VMCS_HOST_CS_SEL, HOST_SEL_CODE);
	vmcs_write(VMCS_HOST_SS_SEL, HOST_SEL_DATA);
	vmcs_write(VMCS_HOST_DS_SEL, HOST_SEL_DATA);
	vmcs_write(VMCS_HOST_FS_SEL, HOST_SEL_DATA);
	vmcs_write(VMCS_HOST_GS_SEL, HOST_SEL_DATA);
	vmcs_write(VMCS_HOST_TR_SEL, HOST_SEL_TSS);
	vmcs_write(VMCS_HOST_FS_BASE, 0);
	vmcs_write(VMCS_HOST_GS_BASE, 0);
	vmcs_write(VMCS_HOST_TR_BASE, (u64)host_tss);
	vmcs_write(VMCS_HOST_GDTR_BASE, (u64)host_gdt);
	vmcs_write(VMCS_HOST_IDTR_BASE, (u64)host_idt);
	vmcs_write(VMCS_HOST_SYSENTER_CS, 0);
	vmcs_write(VMCS_HOST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_HOST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_HOST_EFER, rdmsr(MSR_IA32_EFER));
	vmcs_write(VMCS_HOST_RIP, (u64)vmx_exit_entry);
}

/* Segments, descriptor tables and the other guest state a fetched instruction may change. */
static void write_guest_context(void)
{
	static const u32 data_sel[] = { VMCS_GUEST_ES_SEL, VMCS_GUEST_DS_SEL, VMCS_GUEST_FS_SEL,
					VMCS_GUEST_GS_SEL };
	static const u32 data_lim[] = { VMCS_GUEST_ES_LIMIT, VMCS_GUEST_DS_LIMIT,
					VMCS_GUEST_FS_LIMIT, VMCS_GUEST_GS_LIMIT };
	static const u32 data_ar[] = { VMCS_GUEST_ES_AR, VMCS_GUEST_DS_AR, VMCS_GUEST_FS_AR,
				       VMCS_GUEST_GS_AR };
	static const u32 data_base[] = { VMCS_GUEST_ES_BASE, VMCS_GUEST_DS_BASE,
					 VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE };

	for (int i = 0; i < 4; i++) {
		vmcs_write(data_sel[i], GUEST_SEL_DATA);
		vmcs_write(data_lim[i], GUEST_LIMIT_FLAT);
		vmcs_write(data_ar[i], GUEST_AR_DATA);
		vmcs_write(data_base[i], 0);
	}
	vmcs_write(VMCS_GUEST_CS_BASE, 0);
	vmcs_write(VMCS_GUEST_CS_LIMIT, GUEST_LIMIT_FLAT);
	vmcs_write(VMCS_GUEST_SS_BASE, 0);
	vmcs_write(VMCS_GUEST_SS_LIMIT, GUEST_LIMIT_FLAT);
	vmcs_write(VMCS_GUEST_TR_SEL, GUEST_SEL_TR);
	vmcs_write(VMCS_GUEST_TR_BASE, 0);
	vmcs_write(VMCS_GUEST_TR_LIMIT, GUEST_TR_LIMIT);
	vmcs_write(VMCS_GUEST_TR_AR, GUEST_AR_TR);
	vmcs_write(VMCS_GUEST_LDTR_SEL, 0);
	vmcs_write(VMCS_GUEST_LDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_LDTR_LIMIT, 0);
	vmcs_write(VMCS_GUEST_LDTR_AR, GUEST_AR_UNUSABLE);
	vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, GUEST_DESC_LIMIT);
	vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, GUEST_DESC_LIMIT);
	vmcs_write(VMCS_GUEST_DR7, DR7_INIT);
	vmcs_write(VMCS_GUEST_DEBUGCTL, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_ACTIVITY, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_write(VMCS_GUEST_RSP, 0);
	context_dirty = 0;
}

/* PKRU is not part of the VMCS: the guest sees the value the host last wrote. WRPKRU needs
 * CR4.PKE, which the host keeps off (see setup_paging), so it is on for this one instruction. */
static void set_guest_pkru(u32 value)
{
	u64 cr4;

	/* each CR4.PKE change flushes Bochs's TLB: write only a value PKRU may not hold */
	if (!host_pku || loaded_pkru == value)
		return;
	cr4 = read_cr4();
	write_cr4(cr4 | CR4_PKE);
	wrpkru(value);
	write_cr4(cr4);
	loaded_pkru = value;
}

/* After a guest instruction the agent did not choose: it may have changed the segments and
 * descriptor tables, CS/SS (the CPL) and PKRU, so all of them are written before the next entry. */
static void guest_state_unknown(void)
{
	context_dirty = 1;
	vmcs_cpl = -1;
	loaded_pkru = PKRU_UNKNOWN;
}

static int setup_vmcs(const struct trace_header *th)
{
	*(u32 *)VMCS_REGION = cap_basic & VMX_BASIC_REVISION_MASK;
	if (!direct_mode && (vmclear(VMCS_REGION) != VMX_OK || vmptrld(VMCS_REGION) != VMX_OK))
		return -1;
	launched = 0;
	vmcs_cpl = -1;
	cur_eptp = th->init_eptp;
	cur_spptp = th->init_spptp;
	cur_ctls2 = th->init_ctls2;
	vmcs_write(VMCS_PIN_CTLS, pin_ctls);
	vmcs_write(VMCS_PROC_CTLS, proc_ctls | PROC_MTF);
	vmcs_write(VMCS_PROC_CTLS2, cur_ctls2);
	vmcs_write(VMCS_EXIT_CTLS, exit_ctls);
	vmcs_write(VMCS_ENTRY_CTLS, entry_ctls);
	vmcs_write(VMCS_EXC_BITMAP, 0xffffffffU);
	vmcs_write(VMCS_PF_ERR_MASK, 0);
	vmcs_write(VMCS_PF_ERR_MATCH, 0);
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_CNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_CNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_CNT, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	vmcs_write(VMCS_MSR_BITMAP, MSR_BITMAP);
	vmcs_write(VMCS_EPTP, cur_eptp);
	vmcs_write(VMCS_SPPTP, cur_spptp);
	vmcs_write(VMCS_VPID, GUEST_VPID);
	vmcs_write(VMCS_LINK_POINTER, VMCS_LINK_NONE);
	vmcs_write(VMCS_PREEMPT_TIMER, 0);
	vmcs_write(VMCS_CR0_MASK, cr0_mask);
	vmcs_write(VMCS_CR4_MASK, cr4_mask);
	cr0_shadow = GUEST_CR0_INIT;
	vmcs_write(VMCS_CR0_SHADOW, cr0_shadow);
	vmcs_write(VMCS_CR4_SHADOW, GUEST_CR4_INIT);
	write_host_state();
	vmcs_write(VMCS_GUEST_CR0, (GUEST_CR0_INIT | cr0_fixed0) & cr0_fixed1);
	vmcs_write(VMCS_GUEST_CR3, 0);
	vmcs_write(VMCS_GUEST_CR4, (GUEST_CR4_INIT | cr4_fixed0) & cr4_fixed1);
	vmcs_write(VMCS_GUEST_EFER, GUEST_EFER_INIT);
	vmcs_write(VMCS_GUEST_RFLAGS, GUEST_RFLAGS_INIT);
	write_guest_context();
	return 0;
}

/* Guest CS and SS for cpl (written only when the VMCS holds another CPL). */
static void write_guest_cpl(u32 cpl)
{
	if ((int)cpl == vmcs_cpl)
		return;
	vmcs_cpl = cpl;
	vmcs_write(VMCS_GUEST_CS_SEL, GUEST_SEL_CODE | cpl);
	vmcs_write(VMCS_GUEST_CS_AR, GUEST_AR_CODE64 | ((u64)cpl << AR_DPL_SHIFT));
	vmcs_write(VMCS_GUEST_SS_SEL, GUEST_SEL_STACK | cpl);
	vmcs_write(VMCS_GUEST_SS_AR, GUEST_AR_STACK | ((u64)cpl << AR_DPL_SHIFT));
}

/* One VM entry at rip with the given CPL; MTF for one instruction, or the preemption timer at 0
 * for a test entry that runs nothing. */
static void run_guest(struct guest_regs *regs, u64 rip, u32 cpl, int test_entry,
		      struct exit_info *ex)
{
	op_entered = 1;
	if (touch_kind != TOUCH_SET)
		touch_kind = TOUCH_ALL;
	if (direct_mode) {
		set_guest_pkru(cur_pkru);
		run_guest_direct(regs, rip, cpl, ex);
		return;
	}
	if (context_dirty)
		write_guest_context();
	write_guest_cpl(cpl);
	vmcs_write(VMCS_GUEST_RIP, rip);
	/* a fault or EPT exit under TF leaves the single-step trap pending: never carry it over */
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_RFLAGS, GUEST_RFLAGS_INIT | cur_ac | (test_entry ? 0 : RFLAGS_TF));
	if (test_entry) {
		vmcs_write(VMCS_PIN_CTLS, pin_ctls | PIN_PREEMPT_TIMER);
		vmcs_write(VMCS_PREEMPT_TIMER, 0);
		vmcs_write(VMCS_PROC_CTLS, proc_ctls);
	}
	set_guest_pkru(cur_pkru);
	ex->status = vmx_enter(regs, launched);
	if (test_entry) {
		vmcs_write(VMCS_PIN_CTLS, pin_ctls);
		vmcs_write(VMCS_PROC_CTLS, proc_ctls | PROC_MTF);
	}
	ex->reason = 0;
	ex->qual = ex->gpa = ex->gla = ex->rip = 0;
	ex->intr_info = ex->intr_err = 0;
	ex->instr_error = 0;
	if (ex->status == VMX_FAIL_VALID) {
		ex->instr_error = vmcs_read(VMCS_VM_INSTR_ERROR);
		return;
	}
	if (ex->status != VMX_OK)
		return;
	ex->reason = vmcs_read(VMCS_EXIT_REASON);
	ex->qual = vmcs_read(VMCS_EXIT_QUAL);
	if (!(ex->reason & EXIT_REASON_ENTRY_FAIL))
		launched = 1;
	ex->gpa = vmcs_read(VMCS_GUEST_PHYS_ADDR);
	ex->gla = vmcs_read(VMCS_GUEST_LINEAR_ADDR);
	ex->rip = vmcs_read(VMCS_GUEST_RIP);
	ex->intr_info = vmcs_read(VMCS_EXIT_INTR_INFO);
	ex->intr_err = vmcs_read(VMCS_EXIT_INTR_ERROR);
}

/* ---------------------------------------------------------------------------------------- */
/* outcome printing */

static int is_exception(const struct exit_info *ex, u32 vec)
{
	return ex->reason == EXIT_REASON_EXCEPTION && (ex->intr_info & INTR_INFO_VALID) &&
	       (ex->intr_info & INTR_INFO_VECTOR_MASK) == vec;
}

/* One instruction completed: an MTF exit, or the single-step #DB trap of RFLAGS.TF (Bochs 2.7
 * delivers no MTF exit after a VM entry, so every guest entry also sets TF; see PROTOCOL.md). */
static int step_done(const struct exit_info *ex)
{
	if ((ex->reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_MTF) {
		steps_by_mtf++;
		return 1;
	}
	if (is_exception(ex, VEC_DB)) {
		steps_by_db++;
		return 1;
	}
	return 0;
}

/* Prints "skip ..." for an entry failure; returns 1 if the entry failed. */
static int report_entry_failure(u32 step, const struct exit_info *ex)
{
	if (ex->status == VMX_FAIL_INVALID) {
		out_step(step, "skip entryfail vmfailinvalid\n");
		return 1;
	}
	if (ex->status == VMX_FAIL_VALID) {
		out_step(step, "skip entryfail vmfailvalid");
		out_sp_hex(ex->instr_error);
		out_line_end();
		return 1;
	}
	if (ex->reason & EXIT_REASON_ENTRY_FAIL) {
		out_step(step, "skip entryfail");
		out_sp_hex(ex->reason);
		out_sp_hex(ex->qual);
		out_line_end();
		return 1;
	}
	return 0;
}

static void report_other(u32 step, const char *why, const struct exit_info *ex)
{
	out_step(step, "skip ");
	out_str(why);
	if (ex->reason == EXIT_REASON_EXCEPTION) {
		out_str(" exception");
		out_sp_hex(ex->intr_info & INTR_INFO_VECTOR_MASK);
		out_sp_hex(ex->intr_err);
	} else {
		out_str(" exit");
		out_sp_hex(ex->reason);
		out_sp_hex(ex->qual);
	}
	out_sp_hex(ex->rip);
	out_line_end();
}

static void report_pf(u32 step, const struct exit_info *ex)
{
	struct outcome o = { .kind = OUTCOME_PF, .a = ex->intr_err, .b = ex->qual & LA_MASK };

	emit_outcome(step, &o);
}

/* "S step exit REASON QUAL GPA GLA": reason 49 has no qualification and no GLA; reason 48 has the
 * GLA when qualification bit 7 says it is valid; reason 66 always has it. */
static void report_ept_exit(u32 step, const struct exit_info *ex)
{
	u32 basic = ex->reason & EXIT_REASON_BASIC_MASK;
	struct outcome o = { .kind = OUTCOME_EXIT, .a = basic, .c = ex->gpa };

	if (basic != EXIT_REASON_EPT_MISCONFIG) {
		o.b = ex->qual;
		/* an SPP-related exit's qualification has no GLA-valid bit, but it always saves the GLA */
		if (basic == EXIT_REASON_SPP || (ex->qual & EPT_QUAL_GLA_VALID)) {
			o.gla_valid = 1;
			o.d = ex->gla & LA_MASK;
		}
	}
	emit_outcome(step, &o);
}

static int is_ept_exit(const struct exit_info *ex)
{
	u32 basic = ex->reason & EXIT_REASON_BASIC_MASK;

	return basic == EXIT_REASON_EPT_VIOLATION || basic == EXIT_REASON_EPT_MISCONFIG ||
	       basic == EXIT_REASON_SPP;
}

/* Whether a #PF or EPT exit of a stub-executed op came from fetching the stub itself:
 * a fetch, or a linear address in the stub page that is not a page of the data access. */
static int from_stub_fetch(const struct exit_info *ex, u64 stub, u64 la, u64 size)
{
	/* size 0: the op has no data access (mov cr, wrmsr, invlpg): any stub-page fault is the fetch */
	u64 stub_page = stub & LA_MASK & PAGE_MASK;
	u64 first = la & LA_MASK & PAGE_MASK;
	u64 last = (la + (size ? size - 1 : 0)) & LA_MASK & PAGE_MASK;
	u64 addr;

	if (is_exception(ex, VEC_PF)) {
		addr = ex->qual & LA_MASK & PAGE_MASK;
		if (addr != stub_page)
			return 0;
		return (ex->intr_err & PFERR_I) || size == 0 || (addr != first && addr != last);
	}
	if ((ex->reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_EPT_VIOLATION) {
		if (ex->qual & EPT_QUAL_FETCH)
			return 1;
		if (!(ex->qual & EPT_QUAL_GLA_VALID))
			return 0;
		addr = ex->gla & LA_MASK & PAGE_MASK;
		return addr == stub_page && (size == 0 || (addr != first && addr != last));
	}
	return 0;
}

/* The common outcome of an op the stub executes. Returns 1 if the trace must end. */
static int judge_stub_op(u32 step, const struct exit_info *ex, u64 stub, u64 la, u64 size,
			 const char *what, int is_read, u64 read_value, u64 read_mask)
{
	if (report_entry_failure(step, ex))
		return 1;
	if (step_done(ex)) {
		if (is_read) {
			emit_value(step, OUTCOME_DATA, read_value & read_mask);
		} else {
			emit_simple(step, OUTCOME_OK);
		}
		return 0;
	}
	if (from_stub_fetch(ex, stub, la, size)) {
		report_other(step, "stubfault", ex);
		return 1;
	}
	if (is_exception(ex, VEC_PF)) {
		report_pf(step, ex);
		return 0;
	}
	if (is_ept_exit(ex)) {
		report_ept_exit(step, ex);
		return 0;
	}
	report_other(step, what, ex);
	return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* step write set: the words a guest entry can legitimately write, compared after its exit */

static u64 table_index(u64 addr, int level);
static int table_usable(u64 table);
static int ept_present(u64 e);

static void zero_blocks(void *p, u64 n);

/* Starts an empty write set for the next guest entry. */
static void wset_begin(void)
{
	touch_kind = TOUCH_SET;
	wset_n = 0;
	wset_overflow = 0;
	if (!++wset_stamp_now) {
		zero_blocks(wset_stamp, WSET_STAMP_END - WSET_STAMP);
		wset_stamp_now = 1;
	}
}

/* Adds the 8-byte word at hpa (8-aligned) when it is in a watched frame, once per set, with its
 * value now. */
static void wset_add(u64 hpa)
{
	u16 *stamp;
	u32 w;

	if (hpa >= ram_end || !(w = frame_watch[hpa / PAGE_SIZE]) || wset_overflow)
		return;
	stamp = &wset_stamp[(u64)(w - 1) * WORDS_PER_FRAME + (hpa & (PAGE_SIZE - 1)) / 8];
	if (*stamp == wset_stamp_now)
		return;
	if (wset_n == WSET_MAX) {
		wset_overflow = 1;
		return;
	}
	*stamp = wset_stamp_now;
	wset_hpa[wset_n] = hpa;
	wset_pre[wset_n] = *(const u64 *)hpa;
	wset_n++;
}

/* The walk memo. A page's walk in wset_page reads the same entries and adds the same words to
 * the set whenever CR3, the EPTP, the EPT-present rule (MBEC) and the values of the entries it read
 * are the same: the walk is a function of them. So a walk records the distinct entries it read
 * (address and value, in the order of their first read) and its final HPA; a later walk of the
 * same page under the same roots whose recorded entries all still hold their values adds those
 * entries to the set in that order (what the walk would add: a word it adds twice is added once)
 * without walking. Most steps walk the stub page (the probe fetch and the op after it). */
#define WALK_MEMO_SIZE  8
#define WALK_READS_MAX  24                /* 4 guest entries, 5 EPT walks of 4 entries */
struct walk_memo {
	u64 la_page, cr3, eptp, mbec;
	u64 hpa;                          /* the final HPA's page, or NO_HPA */
	u32 n;                            /* entries recorded; 0: a free slot */
	u64 at[WALK_READS_MAX], val[WALK_READS_MAX];
};
static struct walk_memo walk_memo[WALK_MEMO_SIZE];
static u32 walk_memo_next;
static struct walk_memo *walk_rec;        /* the memo the walk being made records into */
static u64 walk_rec_last[5];              /* per EPT level, the entry recorded last */

static void walk_memo_reset(void)
{
	for (u32 k = 0; k < WALK_MEMO_SIZE; k++)
		walk_memo[k].n = 0;
}

/* Records entry e read with value v (EPT level l, or 0 for a guest entry); an EPT entry equal to
 * the last one recorded at its level (the walks of one page share their upper levels) is not
 * recorded again. */
static void walk_record(int l, u64 e, u64 v)
{
	if (l) {
		if (walk_rec_last[l] == e)
			return;
		walk_rec_last[l] = e;
	}
	walk_rec->at[walk_rec->n] = e;
	walk_rec->val[walk_rec->n] = v;
	walk_rec->n++;
}

/* Adds the EPT entries a walk of gpa reads (levels 4..leaf, where EPT A/D bits go); returns the
 * HPA gpa translates to, or NO_HPA where the walk stops. */
static u64 wset_ept(u64 gpa)
{
	u64 table = cur_eptp & addr_mask;

	for (int l = 4; l >= 1; l--) {
		u64 e, v;

		if (table_usable(table) != PATH_OK)
			return NO_HPA;
		e = table + 8 * table_index(gpa, l);
		wset_add(e);
		v = *(u64 *)e;
		walk_record(l, e, v);
		if (!ept_present(v))
			return NO_HPA;
		if (l == 1 || ((l == 3 || l == 2) && (v & PTE_PS))) {
			u64 span = 1UL << (12 + 9 * (l - 1));
			return ((v & addr_mask) & ~(span - 1)) | (gpa & (span - 1));
		}
		table = v & addr_mask;
	}
	return NO_HPA;
}

static void tlb_hist_reset(void)
{
	tlb_hist_n = 0;
	tlb_hist_full = 0;
}

/* Records the translation of la_page to hpa_page (both page aligned) unless already known. */
static void tlb_hist_note(u64 la_page, u64 hpa_page)
{
	for (u32 k = 0; k < tlb_hist_n; k++)
		if (tlb_hist[k].la_page == la_page && tlb_hist[k].hpa_page == hpa_page)
			return;
	if (tlb_hist_n == TLB_HIST_MAX) {
		tlb_hist_full = 1;
		return;
	}
	tlb_hist[tlb_hist_n].la_page = la_page;
	tlb_hist[tlb_hist_n].hpa_page = hpa_page;
	tlb_hist_n++;
}

/* Adds what an access to [la, la + len) (one page, len >= 1) may write: the guest paging entries
 * on its walk, the EPT entries on the walks of their tables' GPAs and of the final GPA, and the
 * data words at every host page this linear page translated to since the last full TLB flush. */
/* The walk of la's page from guest table GPA table_gpa: adds the entries it reads; returns the
 * final HPA's page or NO_HPA. */
static u64 wset_walk(u64 la, u64 table_gpa)
{
	for (int l = 4; l >= 1; l--) {
		u64 table = wset_ept(table_gpa), e, v;

		if (table == NO_HPA)
			break;
		table &= PAGE_MASK;
		if (table_usable(table) != PATH_OK)
			break;
		e = table + 8 * table_index(la, l);
		wset_add(e);
		v = *(u64 *)e;
		walk_record(0, e, v);
		if (!(v & PTE_P))
			break;
		if (l == 1 || ((l == 3 || l == 2) && (v & PTE_PS))) {
			u64 span = 1UL << (12 + 9 * (l - 1));
			u64 hpa = wset_ept(((v & addr_mask) & ~(span - 1)) | (la & (span - 1)));

			return hpa == NO_HPA ? NO_HPA : hpa & PAGE_MASK;
		}
		table_gpa = v & addr_mask;
	}
	return NO_HPA;
}

/* A memo of la_page's walk under these roots whose entries still hold their values, or 0; *slot
 * (when slot is not 0): where a new walk records (the memo of these roots, or the next slot in
 * turn). */
static struct walk_memo *walk_memo_find(u64 la_page, u64 cr3, u64 eptp, u64 mbec,
					 struct walk_memo **slot)
{
	for (u32 k = 0; k < WALK_MEMO_SIZE; k++) {
		struct walk_memo *m = &walk_memo[k];
		u32 i;

		if (!m->n || m->la_page != la_page || m->cr3 != cr3 || m->eptp != eptp || m->mbec != mbec)
			continue;
		for (i = 0; i < m->n; i++)
			if (*(const u64 *)m->at[i] != m->val[i])
				break;
		if (i == m->n)
			return m;
		if (slot)
			*slot = m;
		return 0;
	}
	if (slot)
		*slot = &walk_memo[walk_memo_next++ % WALK_MEMO_SIZE];
	return 0;
}

static void wset_page(u64 la, u64 len)
{
	u64 cr3 = vmcs_read(VMCS_GUEST_CR3) & addr_mask, eptp = cur_eptp & addr_mask;
	u64 mbec = cur_ctls2 & PROC2_MBEC;
	u64 la_page = la & PAGE_MASK, off = la & (PAGE_SIZE - 1), hpa;
	struct walk_memo *slot, *m = walk_memo_find(la_page, cr3, eptp, mbec, &slot);

	if (m) {
		for (u32 i = 0; i < m->n; i++)
			wset_add(m->at[i]);
		hpa = m->hpa;
	} else {
		slot->n = 0;
		for (int l = 0; l < 5; l++)
			walk_rec_last[l] = NO_HPA;
		walk_rec = slot;
		hpa = wset_walk(la, cr3);
		walk_rec = 0;
		slot->la_page = la_page;
		slot->cr3 = cr3;
		slot->eptp = eptp;
		slot->mbec = mbec;
		slot->hpa = hpa;
	}
	if (hpa != NO_HPA)
		tlb_hist_note(la_page, hpa);
	for (u32 k = 0; k < tlb_hist_n; k++) {
		if (tlb_hist[k].la_page != la_page)
			continue;
		for (u64 w = off & ~7UL; w < off + len; w += 8)
			wset_add(tlb_hist[k].hpa_page + w);
	}
}

/* Adds an access to the linear range [la, la + len) (len >= 1), page by page. */
static void wset_access(u64 la, u64 len)
{
	la &= LA_MASK;
	while (len) {
		u64 in_page = PAGE_SIZE - (la & (PAGE_SIZE - 1));
		u64 n = len < in_page ? len : in_page;

		wset_page(la, n);
		la = (la + n) & LA_MASK;
		len -= n;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* ops */

static void clear_regs(struct guest_regs *r, u64 v)
{
	u64 *p = (u64 *)r;

	for (unsigned i = 0; i < sizeof(*r) / 8; i++)
		p[i] = v;
}

static int guest_allowed(u32 step)
{
	if (cur_ctls2 & PROC2_EPT)
		return 1;
	out_step(step, "skip noept\n");
	return 0;
}

static int op_access(u32 step, const struct op_record *op)
{
	static const u8 read_off[9] = { 0, STUB_READ1, STUB_READ2, 0, STUB_READ4, 0, 0, 0, STUB_READ8 };
	static const u8 write_off[9] = { 0, STUB_WRITE1, STUB_WRITE2, 0, STUB_WRITE4, 0, 0, 0,
					 STUB_WRITE8 };
	int is_read = op->code == OP_READ;
	u64 size = op->a;
	u64 stub = canon(cur_cpl == 3 ? stub_user : stub_sup);
	u64 mask;
	struct guest_regs r;
	struct exit_info ex;

	if (size > 8 || (is_read ? read_off[size] : write_off[size]) == 0) {
		out_step(step, "skip size");
		out_sp_hex(size);
		out_line_end();
		return 1;
	}
	if (!guest_allowed(step))
		return 1;
	mask = size == 8 ? ~0UL : (1UL << (8 * size)) - 1;
	clear_regs(&r, 0);
	r.rdi = canon(op->x);
	r.rax = is_read ? 0 : op->y;
	wset_begin();
	wset_access(stub + (is_read ? read_off[size] : write_off[size]), STUB_INSN_LEN);
	wset_access(op->x, size);
	run_guest(&r, stub + (is_read ? read_off[size] : write_off[size]), cur_cpl, 0, &ex);
	return judge_stub_op(step, &ex, stub, op->x, size, is_read ? "read" : "write", is_read,
			     r.rax, mask);
}

/* The one-instruction fetch patch: `size` bytes of a prefix-padded NOP (0x66 ... 0x90) written
 * over the fetched bytes, so the guest executes exactly one instruction of exactly that length
 * whatever the trace's memory holds there; the original bytes are put back before the memory
 * compare. A byte is patched only where a debug translation of its linear address finds RAM that
 * is not a guest table on that translation's own path (a NOP written into a table the fetch walks
 * would change the walk). */
#define FETCH_PATCH_MAX 15
static int ept_walk(u64 gpa, int level, u64 *out);

/* The table frames a debug translation read: at most 4 guest tables plus 4 EPT tables for each
 * of their GPAs and for the final GPA. */
#define WALK_TABLES_MAX 24
static u64 walk_tables[WALK_TABLES_MAX];
static u32 walk_n;
static int walk_recording;

static void walk_note(u64 frame)
{
	if (walk_recording && walk_n < WALK_TABLES_MAX)
		walk_tables[walk_n++] = frame;
}
struct fetch_patch {
	u8 *at[FETCH_PATCH_MAX];
	u8 old[FETCH_PATCH_MAX];
	int n;
	int exact;           /* every byte patched and reads back as the NOP */
};

/* Debug translation of la (no permission checks, no A/D): the HPA, and in walk_tables every table
 * frame the translation reads (guest tables and the EPT tables of their GPAs and of the final
 * GPA). Returns 1 when la translates to RAM, 2 when it translates outside RAM (or into the hole),
 * 0 when it does not translate. */
static int debug_translate(u64 la, u64 *hpa_out)
{
	u64 table_gpa = vmcs_read(VMCS_GUEST_CR3) & addr_mask;

	walk_n = 0;
	walk_recording = 1;
	for (int l = 4; l >= 1; l--) {
		u64 hpa, v, span;

		if (ept_walk(table_gpa, 0, &hpa) != PATH_OK)
			break;
		hpa &= PAGE_MASK;
		if (table_usable(hpa) != PATH_OK)
			break;
		walk_note(hpa);
		v = *(u64 *)(hpa + 8 * table_index(la, l));
		if (!(v & PTE_P))
			break;
		if (l == 1 || ((l == 3 || l == 2) && (v & PTE_PS))) {
			span = 1UL << (12 + 9 * (l - 1));
			if (ept_walk(((v & addr_mask) & ~(span - 1)) | (la & (span - 1)), 0, &hpa) != PATH_OK)
				break;
			walk_recording = 0;
			if (hpa >= ram_end || (hpa < HOLE_END && hpa >= HOLE_START))
				return 2;
			*hpa_out = hpa;
			return 1;
		}
		table_gpa = v & addr_mask;
	}
	walk_recording = 0;
	return 0;
}

/* Whether frame (page aligned) is one of the tables the last debug_translate read. */
static int walk_read(u64 frame)
{
	for (u32 k = 0; k < walk_n; k++)
		if (walk_tables[k] == frame)
			return 1;
	return 0;
}

static u8 fetch_nop_byte(u64 i, u64 size)
{
	return i + 1 == size ? 0x90 : 0x66;
}

/* Whether the fetch patch may write the bytes of linear page `page` (see fetch_patch_apply), and
 * where they are. The walk memo answers when it holds the page's walk (the write set just walked
 * it): the tables a translation reads are the frames of the entries it read. */
static int fetch_page_usable(u64 page, u64 *hpa_page)
{
	const struct walk_memo *m = walk_memo_find(page, vmcs_read(VMCS_GUEST_CR3) & addr_mask,
						   cur_eptp & addr_mask, cur_ctls2 & PROC2_MBEC, 0);

	if (!m)
		return debug_translate(page, hpa_page) == 1 && !walk_read(*hpa_page & PAGE_MASK);
	if (m->hpa == NO_HPA || m->hpa >= ram_end || (m->hpa < HOLE_END && m->hpa >= HOLE_START))
		return 0;
	for (u32 i = 0; i < m->n; i++)
		if ((m->at[i] & PAGE_MASK) == m->hpa)
			return 0;
	*hpa_page = m->hpa;
	return 1;
}

/* Patches the NOP over [la, la + size): one debug translation per page (RAM, the hole and the
 * tables on the walk are page-granular, so every byte of a page gets the same answer). A byte in a
 * table its own translation reads (a guest table, or an EPT table of that walk) is left alone: a
 * NOP written there would change the translation the fetch makes. */
static void fetch_patch_apply(struct fetch_patch *p, u64 la, u64 size)
{
	u64 page = 1, hpa_page = 0;   /* page 1: no page translated yet */
	int usable = 0;

	p->n = 0;
	for (u64 i = 0; i < size; i++) {
		u64 a = (la + i) & LA_MASK, hpa;

		if ((a & PAGE_MASK) != page) {
			page = a & PAGE_MASK;
			usable = fetch_page_usable(page, &hpa_page);
		}
		if (!usable)
			continue;
		hpa = hpa_page + (a & (PAGE_SIZE - 1));
		p->at[p->n] = (u8 *)hpa;
		p->old[p->n] = *(u8 *)hpa;
		*(u8 *)hpa = fetch_nop_byte(i, size);
		p->n++;
	}
	p->exact = (u64)p->n == size;
	for (int k = 0; p->exact && k < p->n; k++)
		p->exact = *p->at[k] == fetch_nop_byte(k, size);
}

static void fetch_patch_undo(const struct fetch_patch *p)
{
	for (int k = p->n - 1; k >= 0; k--)
		*p->at[k] = p->old[k];
}

static int op_fetch(u32 step, const struct op_record *op)
{
	struct fetch_patch patch;
	u64 la = op->x & LA_MASK, size = op->a;
	struct guest_regs r;
	struct exit_info ex;
	u64 addr, off;

	if (size < 1 || size > 15) {
		out_step(step, "skip size");
		out_sp_hex(size);
		out_line_end();
		return 1;
	}
	if (!guest_allowed(step))
		return 1;
	clear_regs(&r, FETCH_GPR_VALUE);
	wset_begin();
	wset_access(la, size);
	fetch_patch_apply(&patch, la, size);
	run_guest(&r, canon(la), cur_cpl, 0, &ex);
	fetch_patch_undo(&patch);
	if (!patch.exact)
		guest_state_unknown();
	if (report_entry_failure(step, &ex))
		return 1;
	if (step_done(&ex)) {
		if ((ex.rip & LA_MASK) == ((la + size) & LA_MASK)) {
			emit_simple(step, OUTCOME_OK);
			return 0;
		}
		report_other(step, "fetch", &ex);
		return 1;
	}
	if (is_exception(&ex, VEC_PF)) {
		u64 efer = vmcs_read(VMCS_GUEST_EFER), cr4 = vmcs_read(VMCS_GUEST_CR4);
		int i_expected = (efer & EFER_NXE) || (cr4 & CR4_SMEP);

		addr = ex.qual & LA_MASK;
		off = (addr - la) & LA_MASK;
		if (off < size && (i_expected ? (ex.intr_err & PFERR_I) : !(ex.intr_err & PFERR_W))) {
			report_pf(step, &ex);
			return 0;
		}
		report_other(step, "fetch", &ex);
		return 1;
	}
	if ((ex.reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_EPT_MISCONFIG) {
		report_ept_exit(step, &ex);
		return 0;
	}
	if ((ex.reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_EPT_VIOLATION &&
	    (ex.qual & EPT_QUAL_GLA_VALID) &&
	    ((ex.qual & EPT_QUAL_FETCH) || !(ex.qual & EPT_QUAL_XLAT))) {
		off = ((ex.gla & LA_MASK) - la) & LA_MASK;
		if (off < size) {
			report_ept_exit(step, &ex);
			return 0;
		}
	}
	report_other(step, "fetch", &ex);
	return 1;
}

/* A register write the guest performs at CPL 0 through the stub. */
static int op_guest_reg(u32 step, const struct op_record *op, u64 stub_off)
{
	u64 stub = canon(stub_sup);
	struct guest_regs r;
	struct exit_info ex;
	u64 old_shadow = cr0_shadow;

	if (!guest_allowed(step))
		return 1;
	clear_regs(&r, 0);
	if (stub_off == STUB_WRMSR) {
		r.rcx = op->a == REG_EFER ? MSR_IA32_EFER : MSR_IA32_PKRS;
		r.rax = op->y & 0xffffffffUL;
		r.rdx = op->y >> 32;
	} else {
		r.rax = op->y;
	}
	if (stub_off == STUB_MOV_CR0) {
		/* CR0.NE is forced on in VMX operation: let the guest's value choose its shadow */
		cr0_shadow = (cr0_shadow & ~CR0_NE) | (op->y & CR0_NE);
		vmcs_write(VMCS_CR0_SHADOW, cr0_shadow);
	}
	wset_begin();
	wset_access(stub + stub_off, STUB_INSN_LEN);
	run_guest(&r, stub + stub_off, 0, 0, &ex);
	if (stub_off == STUB_MOV_CR0 && (ex.status != VMX_OK || !step_done(&ex))) {
		cr0_shadow = old_shadow;
		vmcs_write(VMCS_CR0_SHADOW, cr0_shadow);
	}
	if (report_entry_failure(step, &ex))
		return 1;
	if (step_done(&ex)) {
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	if (is_exception(&ex, VEC_GP)) {
		emit_simple(step, OUTCOME_GP);
		return 0;
	}
	if ((ex.reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_CR_ACCESS) {
		report_other(step, "cr", &ex);
		return 1;
	}
	return judge_stub_op(step, &ex, stub, stub, 0, "setreg", 0, 0, 0);
}

static int op_set_reg(u32 step, const struct op_record *op)
{
	switch (op->a) {
	case REG_CR0:
		return op_guest_reg(step, op, STUB_MOV_CR0);
	case REG_CR3:
		return op_guest_reg(step, op, STUB_MOV_CR3);
	case REG_CR4:
		return op_guest_reg(step, op, STUB_MOV_CR4);
	case REG_EFER:
	case REG_PKRS:
		return op_guest_reg(step, op, STUB_WRMSR);
	case REG_RFLAGS:
		cur_ac = op->y & RFLAGS_AC;
		emit_simple(step, OUTCOME_OK);
		return 0;
	case REG_CPL:
		if (op->y > 3) {
			emit_simple(step, OUTCOME_GP);
			return 0;
		}
		cur_cpl = op->y;
		emit_simple(step, OUTCOME_OK);
		return 0;
	case REG_PKRU:
		if (op->y >> 32) {
			emit_simple(step, OUTCOME_GP);
			return 0;
		}
		cur_pkru = op->y;
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	out_step(step, "skip reg");
	out_sp_hex(op->a);
	out_line_end();
	return 1;
}

static int op_invlpg(u32 step, const struct op_record *op)
{
	u64 stub = canon(stub_sup);
	struct guest_regs r;
	struct exit_info ex;

	if (!guest_allowed(step))
		return 1;
	clear_regs(&r, 0);
	r.rdi = canon(op->x);
	wset_begin();
	wset_access(stub + STUB_INVLPG, STUB_INSN_LEN);
	run_guest(&r, stub + STUB_INVLPG, 0, 0, &ex);
	if (!report_entry_failure(step, &ex) && is_exception(&ex, VEC_GP)) {
		emit_simple(step, OUTCOME_GP);
		return 0;
	}
	return judge_stub_op(step, &ex, stub, stub, 0, "invlpg", 0, 0, 0);
}

static int report_vmx_instr(u32 step, int status)
{
	if (status == VMX_OK) {
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	if (status == VMX_FAIL_VALID) {
		emit_value(step, OUTCOME_VMFAIL, vmcs_read(VMCS_VM_INSTR_ERROR));
		return 0;
	}
	out_step(step, "skip vmfailinvalid\n");
	return 1;
}

/* INVEPT / INVVPID all-context invalidate every combined mapping of the guest (VPID 1): the
 * translations recorded for stale-TLB data words can go. */
static int op_invept(u32 step, const struct op_record *op)
{
	u64 desc[2] = { op->y, 0 };
	int st;

	if (direct_mode)
		return 2;
	st = invept(op->a, desc);

	if (st == VMX_OK && op->a == INVEPT_ALL_CONTEXT)
		tlb_hist_reset();
	return report_vmx_instr(step, st);
}

static int op_invvpid(u32 step, const struct op_record *op)
{
	/* the trace's descriptor address is the full 64-bit value, passed as it is (a non-canonical
	 * one is what the VM-instruction error 28 check is about) */
	u64 desc[2] = { op->b, op->y };
	int st;

	if (direct_mode)
		return 2;
	st = invvpid(op->a, desc);

	if (st == VMX_OK && op->a == INVVPID_ALL_CONTEXT)
		tlb_hist_reset();
	return report_vmx_instr(step, st);
}

/* set_eptp / set_spptp / set_ctls2: VMWRITE, then a test entry that runs no instruction. */
static int op_set_vmcs(u32 step, u64 field, u64 value, u64 *cur)
{
	u64 old = *cur;
	struct guest_regs r;
	struct exit_info ex;
	int st;

	st = vmcs_write(field, value);
	if (st != VMX_OK)
		return report_vmx_instr(step, st);
	if (direct_mode) {
		/* no VMX to test the entry with: the harness's identity EPTP is recorded (the agent's
		 * debug walks use it), nothing else */
		*cur = value;
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	clear_regs(&r, 0);
	wset_begin();                    /* a test entry runs no instruction: it writes nothing */
	run_guest(&r, canon(stub_sup), 0, 1, &ex);
	if (ex.status == VMX_FAIL_VALID) {
		vmcs_write(field, old);
		emit_value(step, OUTCOME_VMFAIL, ex.instr_error);
		return 0;
	}
	if (report_entry_failure(step, &ex)) {
		vmcs_write(field, old);
		return 1;
	}
	*cur = value;
	if ((ex.reason & EXIT_REASON_BASIC_MASK) == EXIT_REASON_PREEMPT_TIMER) {
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	report_other(step, "testentry", &ex);
	return 1;
}

static int phys_range_check(u32 step, u64 hpa, u64 size)
{
	if (size < 1 || size > 8) {
		out_step(step, "skip size");
		out_sp_hex(size);
		out_line_end();
		return -1;
	}
	if (hpa + size > ram_end || hpa + size < hpa) {
		emit_simple(step, OUTCOME_NOENT);
		return 1;
	}
	if (hpa < HOLE_END && hpa + size > HOLE_START) {
		out_step(step, "skip reserved\n");
		return -1;
	}
	return 0;
}

static int op_phys(u32 step, const struct op_record *op)
{
	int c = phys_range_check(step, op->x, op->a);
	u64 v = 0;

	if (c)
		return c < 0;
	if (op->code == OP_PHYS_WRITE) {
		memcpy((void *)op->x, &op->y, op->a);
		emit_simple(step, OUTCOME_OK);
	} else {
		memcpy(&v, (const void *)op->x, op->a);
		emit_value(step, OUTCOME_DATA, v);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* path ops: debug walks (docs/semantics.md "Path ops") */

static u64 table_index(u64 addr, int level)
{
	return (addr >> (12 + 9 * (level - 1))) & (ENTRIES_PER_TABLE - 1);
}

static int table_usable(u64 table)
{
	if (table + PAGE_SIZE > ram_end)
		return PATH_NOENT;
	if (table < HOLE_END && table + PAGE_SIZE > HOLE_START)
		return PATH_RESERVED;
	return PATH_OK;
}

static int ept_present(u64 e)
{
	return (e & EPT_PRESENT_MASK) || ((cur_ctls2 & PROC2_MBEC) && (e & EPT_XU));
}

/* The address of the EPT entry for gpa at `level` (walk stops there), or a leaf translation of
 * gpa when level == 0. */
static int ept_walk(u64 gpa, int level, u64 *out)
{
	u64 table = cur_eptp & addr_mask;

	for (int l = 4; l >= 1; l--) {
		int u = table_usable(table);
		u64 *e, v;

		if (u != PATH_OK)
			return u;
		walk_note(table);
		e = (u64 *)(table + 8 * table_index(gpa, l));
		if (l == level) {
			*out = (u64)e;
			return PATH_OK;
		}
		v = *e;
		if (!ept_present(v))
			return PATH_NOENT;
		if ((l == 3 || l == 2) && (v & PTE_PS)) {
			u64 span = 1UL << (12 + 9 * (l - 1));
			if (level)
				return PATH_NOENT;
			*out = ((v & addr_mask) & ~(span - 1)) | (gpa & (span - 1));
			return PATH_OK;
		}
		if (l == 1) {
			if (level)
				return PATH_NOENT;
			*out = (v & addr_mask) | (gpa & (PAGE_SIZE - 1));
			return PATH_OK;
		}
		table = v & addr_mask;
	}
	return PATH_NOENT;
}

static int gpt_walk(u64 la, int level, u64 *out)
{
	u64 table_gpa = vmcs_read(VMCS_GUEST_CR3) & addr_mask;

	for (int l = 4; l >= level; l--) {
		u64 hpa, v;
		int u = ept_walk(table_gpa, 0, &hpa);

		if (u != PATH_OK)
			return u;
		hpa &= PAGE_MASK;
		u = table_usable(hpa);
		if (u != PATH_OK)
			return u;
		hpa += 8 * table_index(la, l);
		if (l == level) {
			*out = hpa;
			return PATH_OK;
		}
		v = *(u64 *)hpa;
		if (!(v & PTE_P))
			return PATH_NOENT;
		if ((l == 3 || l == 2) && (v & PTE_PS))
			return PATH_NOENT;
		table_gpa = v & addr_mask;
	}
	return PATH_NOENT;
}

static int sppt_walk(u64 gpa, int level, u64 *out)
{
	u64 table = cur_spptp & addr_mask;

	for (int l = 4; l >= level; l--) {
		int u = table_usable(table);
		u64 *e;

		if (u != PATH_OK)
			return u;
		e = (u64 *)(table + 8 * table_index(gpa, l));
		if (l == level) {
			*out = (u64)e;
			return PATH_OK;
		}
		if (!(*e & SPPT_PRESENT))
			return PATH_NOENT;
		table = *e & addr_mask;
	}
	return PATH_NOENT;
}

static int op_path(u32 step, const struct op_record *op)
{
	u64 where = 0;
	int r;

	if (op->a < 1 || op->a > 4) {
		out_step(step, "skip level");
		out_sp_hex(op->a);
		out_line_end();
		return 1;
	}
	if (op->code == OP_EPT_SET)
		r = ept_walk(op->x, op->a, &where);
	else if (op->code == OP_GPT_SET)
		r = gpt_walk(op->x & LA_MASK, op->a, &where);
	else
		r = sppt_walk(op->x, op->a, &where);
	touch_kind = TOUCH_NONE;
	if (r == PATH_NOENT) {
		emit_simple(step, OUTCOME_NOENT);
		return 0;
	}
	if (r == PATH_RESERVED) {
		out_step(step, "skip reserved\n");
		return 1;
	}
	*(u64 *)where = op->y;
	touch_range(where, 8);
	emit_simple(step, OUTCOME_OK);
	return 0;
}

/* Runs one op and prints its S line; touch_kind / the write set say what it may have written.
 * Returns 1 if the trace must end. */
static int run_op(u32 step, const struct op_record *op)
{
	touch_kind = TOUCH_NONE;
	op_entered = 0;
	switch (op->code) {
	case OP_READ:
	case OP_WRITE:
		return op_access(step, op);
	case OP_FETCH:
		return op_fetch(step, op);
	case OP_SET_REG:
		return op_set_reg(step, op);
	case OP_INVLPG:
		return op_invlpg(step, op);
	case OP_INVVPID:
	case OP_INVEPT: {
		int r = op->code == OP_INVEPT ? op_invept(step, op) : op_invvpid(step, op);

		if (r != 2)
			return r;
		break;                   /* direct mode: no VMX instruction (skip op) */
	}
	case OP_SET_EPTP:
		return op_set_vmcs(step, VMCS_EPTP, op->y, &cur_eptp);
	case OP_SET_SPPTP:
		return op_set_vmcs(step, VMCS_SPPTP, op->y, &cur_spptp);
	case OP_SET_CTLS2: {
		u64 v = cur_ctls2;
		int r = op_set_vmcs(step, VMCS_PROC_CTLS2, op->c, &v);
		cur_ctls2 = v;
		return r;
	}
	case OP_PHYS_WRITE:
		touch_range(op->x, op->a);
		return op_phys(step, op);
	case OP_PHYS_READ:
		return op_phys(step, op);
	case OP_EPT_SET:
	case OP_GPT_SET:
	case OP_SPPT_SET:
		return op_path(step, op);
	case OP_LOAD_CR3:
		/* The harness's own CR3 switch (lower.ts): a VMCS write, no flush; the MOV CR3 that
		 * follows it in the guest does the architectural check and flush. */
		vmcs_write(VMCS_GUEST_CR3, op->y);
		emit_simple(step, OUTCOME_OK);
		return 0;
	}
	out_step(step, "skip op");
	out_sp_hex(op->code);
	out_line_end();
	return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* watched frames */

static int frame_ok(u32 frame)
{
	u64 pa = (u64)frame * PAGE_SIZE;

	return pa + PAGE_SIZE <= ram_end && !(pa < HOLE_END && pa + PAGE_SIZE > HOLE_START);
}

#define AVX2_WORDS      8                 /* words per iteration of the AVX2 loop (2 x 32 bytes) */
#define AVX2_WIDE_WORDS 16                /* ... of the wide loop (4 x 32 bytes) */

/* Index of the first differing 64-bit word of a[0..n) and b[0..n), or n. Bochs's cost is per
 * memory access, so 32-byte AVX2 loads skip the equal prefix when the host has them (128 bytes
 * per loop iteration, then 64); repe cmpsq (one instruction, two accesses per word) finds the
 * exact word. */
static u32 first_diff(const u64 *a, const u64 *b, u32 n)
{
	unsigned long left, skip = 0;

	if (host_avx2 && n >= AVX2_WIDE_WORDS) {
		unsigned long off = 0, end = (unsigned long)(n / AVX2_WIDE_WORDS) * AVX2_WIDE_WORDS * 8;

		asm volatile("1: vmovdqu (%1,%0), %%ymm0\n\t"
			     "vmovdqu 32(%1,%0), %%ymm1\n\t"
			     "vmovdqu 64(%1,%0), %%ymm2\n\t"
			     "vmovdqu 96(%1,%0), %%ymm3\n\t"
			     "vpxor (%2,%0), %%ymm0, %%ymm0\n\t"
			     "vpxor 32(%2,%0), %%ymm1, %%ymm1\n\t"
			     "vpxor 64(%2,%0), %%ymm2, %%ymm2\n\t"
			     "vpxor 96(%2,%0), %%ymm3, %%ymm3\n\t"
			     "vpor %%ymm1, %%ymm0, %%ymm0\n\t"
			     "vpor %%ymm3, %%ymm2, %%ymm2\n\t"
			     "vpor %%ymm2, %%ymm0, %%ymm0\n\t"
			     "vptest %%ymm0, %%ymm0\n\t"
			     "jnz 2f\n\t"
			     "add $128, %0\n\t"
			     "cmp %3, %0\n\t"
			     "jne 1b\n"
			     "2: vzeroupper"
			     : "+r"(off) : "r"(a), "r"(b), "r"(end) : "cc", "memory");
		skip = off / 8;
	}
	if (host_avx2 && n - skip >= AVX2_WORDS) {
		const u64 *pa = a + skip, *pb = b + skip;
		unsigned long blocks = (n - skip) / AVX2_WORDS;

		asm volatile("1: vmovdqu (%0), %%ymm0\n\t"
			     "vmovdqu 32(%0), %%ymm1\n\t"
			     "vpxor (%1), %%ymm0, %%ymm0\n\t"
			     "vpxor 32(%1), %%ymm1, %%ymm1\n\t"
			     "vpor %%ymm1, %%ymm0, %%ymm0\n\t"
			     "vptest %%ymm0, %%ymm0\n\t"
			     "jnz 2f\n\t"
			     "add $64, %0\n\t"
			     "add $64, %1\n\t"
			     "dec %2\n\t"
			     "jnz 1b\n"
			     "2: vzeroupper"
			     : "+r"(pa), "+r"(pb), "+r"(blocks) : : "cc", "memory");
		/* no vector register clobbers: -mgeneral-regs-only keeps the compiler out of them */
		skip = pa - a;
	}
	if (skip == n)
		return n;
	a += skip;
	b += skip;
	left = n - skip;
	asm volatile("repe cmpsq" : "+S"(a), "+D"(b), "+c"(left) : : "cc", "memory");
	if (a[-1] == b[-1])
		return n;
	return n - left - 1;
}

static const u64 *watched_frame(const u32 *watch, u32 w)
{
	return (const u64 *)((u64)watch[w] * PAGE_SIZE);
}

static u64 *shadow_frame(u32 w)
{
	return (u64 *)(SHADOW_BASE + (u64)w * PAGE_SIZE);
}

/* Absorbs words [start, end) of watched frame w into its shadow and prints one M line with the
 * bytes from the first to the last that changed (words start and end - 1 must differ). */
static void report_words(const u32 *watch, u32 w, u32 start, u32 end)
{
	const u64 *m = watched_frame(watch, w);
	u64 *s = shadow_frame(w);
	u64 lo = 8 * start + __builtin_ctzl(m[start] ^ s[start]) / 8;
	u64 hi = 8 * (end - 1) + (63 - __builtin_clzl(m[end - 1] ^ s[end - 1])) / 8 + 1;

	for (u32 i = start; i < end; i++)
		s[i] = m[i];
	out_reserve(64 + 2 * (hi - lo));
	out_str("M ");
	out_hex(watch[w]);
	out_sp_hex(lo);
	out_char(' ');
	out_hexbytes((const u8 *)s + lo, hi - lo);
	out_line_end();
}

/* Report and absorb the differing runs of words [from, to) of watched frame number w. */
static void compare_words(const u32 *watch, u32 w, u32 from, u32 to)
{
	const u64 *m = watched_frame(watch, w);
	const u64 *s = shadow_frame(w);
	u32 i = from;

	for (;;) {
		u32 start;

		i += first_diff(m + i, s + i, to - i);
		if (i >= to)
			break;
		start = i;
		while (i < to && m[i] != s[i])
			i++;
		report_words(watch, w, start, i);
	}
}

/* Every watched word: the safety net that also finds writes outside the steps' write sets. */
static void compare_all(const u32 *watch, u32 nwatch)
{
	for (u32 w = 0; w < nwatch; w++)
		if (frame_ok(watch[w]))
			compare_words(watch, w, 0, WORDS_PER_FRAME);
	full_compare_due = 0;
}

/* The words of the step's write set (all in watched frames, each once): a word that changed
 * during the entry is reported against its shadow. A word that did not change is left alone even
 * if its shadow differs (an earlier write outside a set): the next full compare reports that. */
static void compare_set(const u32 *watch)
{
	for (u32 k = 0; k < wset_n; k++) {
		u64 hpa = wset_hpa[k], v = *(const u64 *)hpa;
		u32 w, i;

		if (v == wset_pre[k])
			continue;
		w = frame_watch[hpa / PAGE_SIZE] - 1;
		i = (hpa & (PAGE_SIZE - 1)) / 8;
		if (shadow_frame(w)[i] != v)
			report_words(watch, w, i, i + 1);
	}
}

/* The watched words of the host op's range, in watch-list order. */
static void compare_range_frame(const u32 *watch, u32 w)
{
	u64 base = (u64)watch[w] * PAGE_SIZE, lo, hi;

	lo = touch_hpa > base ? touch_hpa : base;
	hi = touch_hpa + touch_len < base + PAGE_SIZE ? touch_hpa + touch_len : base + PAGE_SIZE;
	if (lo < hi)
		compare_words(watch, w, (lo - base) / 8, (hi - base + 7) / 8);
}

/* A host op's range (at most 8 bytes: one or two frames): the frames' watch indices come from
 * frame_watch; a watch list that names a frame twice is searched whole, as each index of the
 * frame has its own shadow. */
static void compare_range(const u32 *watch, u32 nwatch)
{
	u64 first = touch_hpa / PAGE_SIZE, last;
	u32 w0, w1;

	if (watch_dups) {
		for (u32 w = 0; w < nwatch; w++)
			if (frame_ok(watch[w]))
				compare_range_frame(watch, w);
		return;
	}
	if (!touch_len || touch_hpa >= ram_end)
		return;
	last = (touch_hpa + touch_len - 1) / PAGE_SIZE;
	w0 = frame_watch[first];
	w1 = last != first && last < ram_end / PAGE_SIZE ? frame_watch[last] : 0;
	if (w1 && (!w0 || w1 < w0)) {
		compare_range_frame(watch, w1 - 1);
		w1 = 0;
	}
	if (w0)
		compare_range_frame(watch, w0 - 1);
	if (w1)
		compare_range_frame(watch, w1 - 1);
}

/* After a step: every watched byte that changed since the previous step becomes an M line. A host
 * op's range and a guest entry's write set are compared at once; every FULL_COMPARE_EVERY-th guest
 * entry (and a step whose set overflowed, and the end of the trace) compares every watched word,
 * so a write outside the sets is reported there, late. The shadows are in sync everywhere else. */
static void compare_watch(const u32 *watch, u32 nwatch)
{
	if (op_entered) {
		trace_entries++;
		full_compare_due = 1;
		if (trace_entries % FULL_COMPARE_EVERY == 0 || touch_kind != TOUCH_SET ||
		    wset_overflow || tlb_hist_full) {
			compare_all(watch, nwatch);
			return;
		}
	}
	if (touch_kind == TOUCH_SET) {
		compare_set(watch);
	} else if (touch_kind == TOUCH_ALL) {
		compare_all(watch, nwatch);
	} else if (touch_kind == TOUCH_RANGE) {
		compare_range(watch, nwatch);
	}
}

#define ZERO_BLOCK      128               /* bytes per iteration of the AVX2 loop */

/* Zeroes [p, p + n) (n a multiple of ZERO_BLOCK): 32-byte stores with AVX2 (Bochs charges per
 * instruction, and a `rep stosq` iteration is one). */
static void zero_blocks(void *p, u64 n)
{
	u64 blocks = n / ZERO_BLOCK;

	if (!host_avx2) {
		memset(p, 0, n);
		return;
	}
	if (!blocks)
		return;
	asm volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n"
		     "1: vmovdqu %%ymm0, (%0)\n\t"
		     "vmovdqu %%ymm0, 32(%0)\n\t"
		     "vmovdqu %%ymm0, 64(%0)\n\t"
		     "vmovdqu %%ymm0, 96(%0)\n\t"
		     "add $128, %0\n\t"
		     "dec %1\n\t"
		     "jnz 1b\n\t"
		     "vzeroupper"
		     : "+r"(p), "+r"(blocks) : : "cc", "memory");
}

/* Zeroes the watched frames; with skip_mapped, not those frame_watch maps (the previous trace's
 * frames, zeroed just before). */
static void zero_frames(const u32 *watch, u32 nwatch, int skip_mapped)
{
	for (u32 w = 0; w < nwatch; w++)
		if (frame_ok(watch[w]) && !(skip_mapped && frame_watch[watch[w]]))
			zero_blocks((void *)((u64)watch[w] * PAGE_SIZE), PAGE_SIZE);
}

/* frame_watch[] and watch_bitmap[] for this trace's watch list (the previous trace's entries
 * cleared); a frame listed twice keeps its first index. */
static void map_watch(const u32 *watch, u32 nwatch)
{
	for (u32 w = 0; w < prev_nwatch; w++) {
		u32 f = prev_watch[w];

		if (frame_ok(f)) {
			frame_watch[f] = 0;
			watch_bitmap[f / 8] = 0;
		}
	}
	watch_dups = 0;
	for (u32 w = 0; w < nwatch; w++) {
		u32 f = watch[w];

		if (!frame_ok(f))
			continue;
		if (frame_watch[f]) {
			watch_dups = 1;
			continue;
		}
		frame_watch[f] = w + 1;
		watch_bitmap[f / 8] |= 1U << (f % 8);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* traces */

/* The expectations of one trace (export images), or count == 0 when the batch has none. */
struct trace_expect {
	const u8 *count;                  /* per op: its expectation records */
	const struct outcome *rec;        /* the records, op by op */
};

/* Runs one trace: "T", the steps' S and M lines (and report lines when expect.count is set),
 * "E"; the stream is flushed after it, and the agent's own code and tables are checked. */
static void run_trace(const struct trace_header *th, const u32 *watch, const struct op_record *ops,
		      const struct trace_expect *expect)
{
	u64 desc[2] = { 0, 0 };
	const struct outcome *want = expect->rec;
	char skip_text[SKIP_TEXT_MAX];
	unsigned long skip_len;
	u32 ran = 0;

	out_reserve(64);
	out_str("T ");
	out_hex(th->index);
	out_line_end();
	report_steps += th->nops;

	zero_frames(prev_watch, prev_nwatch, 0);
	zero_frames(watch, th->nwatch, 1);
	zero_blocks((void *)SHADOW_BASE, (u64)th->nwatch * PAGE_SIZE);
	map_watch(watch, th->nwatch);
	prev_watch = watch;
	prev_nwatch = th->nwatch;
	trace_entries = 0;
	full_compare_due = 0;
	tlb_hist_reset();
	walk_memo_reset();

	cur_cpl = 0;
	cur_ac = 0;
	cur_pkru = 0;
	if (direct_mode && host_pks)
		wrmsr(MSR_IA32_PKRS, 0);  /* the guest's own WRMSRs set it; each trace starts at 0 */
	stub_sup = th->stub_la_sup;
	stub_user = th->stub_la_user;
	if (setup_vmcs(th)) {
		out_str("S 0 skip vmptrld\n");
	} else {
		if (!direct_mode) {
			desc[0] = GUEST_VPID;
			invvpid(INVVPID_ALL_CONTEXT, desc);
			desc[0] = 0;
			invept(INVEPT_ALL_CONTEXT, desc);
		}
		while (ran < th->nops) {
			u32 i = ran++;
			int end;

			step_outcome.kind = OUTCOME_NONE;
			end = run_op(i, &ops[i]);
			skip_len = 0;
			if (step_outcome.kind == OUTCOME_SKIP)
				skip_len = out_since(step_text_mark, skip_text, sizeof(skip_text));
			compare_watch(watch, th->nwatch);
			if (expect->count) {
				report_step(i, want, expect->count[i], skip_text, skip_len);
				want += expect->count[i];
			}
			if (end)
				break;
		}
		if (full_compare_due)
			compare_all(watch, th->nwatch);
	}
	if (expect->count)
		report_rest(ran, th->nops);
	set_guest_pkru(0);
	out_reserve(64);
	out_str("E ");
	out_hex(th->index);
	out_line_end();
	out_flush();
	out_progress("E", th->index, 1);      /* results on disk: this trace's lines are there */
	if (!agent_intact())
		stop_batch("agentcorrupt");
}

static int batch_magic_ok(const struct batch_header *bh)
{
	static const char magic[8] = { 'E', 'P', 'T', 'F', 'B', 'A', 'T', '1' };

	for (int i = 0; i < 8; i++)
		if (bh->magic[i] != magic[i])
			return 0;
	return 1;
}

/* Bytes of the batch header, with the results block when the flags have one. */
static u64 batch_header_bytes(const struct batch_header *bh)
{
	return sizeof(*bh) + (bh->flags & BATCH_FLAG_RESULTS_DISK ? sizeof(struct batch_results) : 0);
}

/* The expectations section at `at` of a trace with nops ops (PROTOCOL.md "Expectations"): fills
 * ex and returns its end, or 0 when it does not fit before `end` or has an unknown kind. */
static u64 parse_expect(u64 at, u64 end, u32 nops, struct trace_expect *ex)
{
	u64 counts_bytes = ((u64)nops + 7) / 8 * 8, nrec = 0;
	const struct outcome *rec;

	if (at + counts_bytes > end)
		return 0;
	ex->count = (const u8 *)at;
	for (u32 i = 0; i < nops; i++)
		nrec += ex->count[i];
	rec = (const struct outcome *)(at + counts_bytes);
	if ((u64)(rec + nrec) > end)
		return 0;
	for (u64 k = 0; k < nrec; k++)
		if (rec[k].kind < OUTCOME_OK || rec[k].kind > OUTCOME_KIND_MAX)
			return 0;
	ex->rec = rec;
	return (u64)(rec + nrec);
}

/* Checks the batch header and runs every trace; returns at the end of the batch (a bad header or
 * trace stops the batch). */
static void run_batch(void)
{
	const struct batch_header *bh = (const struct batch_header *)BATCH_BUF;
	u64 at, end;

	if (!batch_magic_ok(bh))
		stop_batch("badbatch magic");
	if (bh->version != BATCH_VERSION || bh->bytes < batch_header_bytes(bh) ||
	    bh->bytes > BATCH_BUF_SIZE || (bh->flags & ~BATCH_FLAGS_KNOWN) ||
	    bh->ram_end > AGENT_BASE || bh->ram_end < HOLE_END || (bh->ram_end & (PAGE_SIZE - 1)) ||
	    bh->maxphyaddr < 32 || bh->maxphyaddr > 52)
		stop_batch("badbatch header");
	ram_end = bh->ram_end;
	addr_mask = ((1UL << bh->maxphyaddr) - 1) & PAGE_MASK;
	out_str("B ");
	out_hex(bh->count);
	out_line_end();
	at = BATCH_BUF + batch_header_bytes(bh);
	end = BATCH_BUF + bh->bytes;
	for (u32 t = 0; t < bh->count; t++) {
		const struct trace_header *th = (const struct trace_header *)at;
		const u32 *watch = (const u32 *)(at + sizeof(*th));
		struct trace_expect ex = { 0, 0 };
		u64 watch_bytes, ops_at;

		if (at + sizeof(*th) > end || th->magic != TRACE_MAGIC || th->nwatch > SHADOW_MAX)
			stop_batch("badtrace");
		watch_bytes = 4 * ((u64)th->nwatch + (th->nwatch & 1));
		ops_at = at + sizeof(*th) + watch_bytes;
		at = ops_at + (u64)th->nops * sizeof(struct op_record);
		if (at > end)
			stop_batch("badtrace");
		if (report_on) {
			at = parse_expect(at, end, th->nops, &ex);
			if (!at)
				stop_batch("badtrace");
		}
		run_trace(th, watch, (const struct op_record *)ops_at, &ex);
	}
}

/* Reads the batch from disk into BATCH_BUF (as many sectors as its header says), and takes from
 * its header what comes before the traces: whether it is an export image (the report) and
 * where the result stream goes. */
static void load_batch(void)
{
	const struct batch_header *bh = (const struct batch_header *)BATCH_BUF;
	const struct batch_results *res = (const struct batch_results *)(bh + 1);
	u64 sectors;

	if (ata_read(BATCH_LBA, 1, (void *)BATCH_BUF)) {
		agent_say("agent: cannot read the batch from the disk");
		stop_batch("diskerror");
	}
	if (!batch_magic_ok(bh))
		return;                  /* run_batch judges the header */
	report_on = (bh->flags & BATCH_FLAG_EXPECT) != 0;
	direct_wanted = (bh->flags & BATCH_FLAG_DIRECT) != 0;
	if (bh->bytes > BATCH_BUF_SIZE)
		return;
	sectors = (bh->bytes + SECTOR_SIZE - 1) / SECTOR_SIZE;
	if (sectors > 1 && ata_read(BATCH_LBA + 1, sectors - 1, (void *)(BATCH_BUF + SECTOR_SIZE))) {
		agent_say("agent: cannot read the batch from the disk");
		stop_batch("diskerror");
	}
	if (!(bh->flags & BATCH_FLAG_RESULTS_DISK) || bh->bytes < batch_header_bytes(bh))
		return;
	if (res->lba < BATCH_LBA + sectors || !res->sectors ||
	    (u64)res->lba + res->sectors > ATA_LBA28_SECTORS)
		stop_batch("badbatch results");
	out_to_disk(res->lba, res->sectors);
}

void agent_main(void)
{
	setup_descriptors();
	serial_init();
	read_caps();
	setup_paging();
	/* the BIOS and the boot sector left data below 640 KiB: trace RAM must read as zeros */
	memset((void *)0, 0, HOLE_START);
	memset((void *)FRAME_WATCH, 0, FRAME_WATCH_END - FRAME_WATCH);
	memset((void *)WATCH_BITMAP, 0, WATCH_BITMAP_END - WATCH_BITMAP);
	memset((void *)WSET_STAMP, 0, WSET_STAMP_END - WSET_STAMP);
	agent_check_begin();
	/* the batch first: it says where the stream goes (the H line opens it) and whether the H
	 * line is also the first line of a report on COM1 */
	load_batch();
	out_tee_serial(report_on);
	print_h_line();
	out_tee_serial(0);
	if (direct_wanted) {
		setup_direct();
		agent_check_begin();
	} else {
		enter_vmx();
	}
	run_batch();
	finish_batch();
}
