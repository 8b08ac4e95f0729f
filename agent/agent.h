/* agent.h: the agent's memory map (agent region 0x0F000000..0x10000000), the batch wire format
 * of PROTOCOL.md, port numbers, and the io.c helpers (output buffer, ATA PIO, shutdown). */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include "vmx.h"

/* ---- physical memory map (identity mapped) ---- */
#define AGENT_BASE        0x0f000000UL  /* code, rodata, data, bss: up to AGENT_IMAGE_END */
#define AGENT_IMAGE_END   0x0f080000UL
#define STACK_BOTTOM      0x0f080000UL
#define STACK_TOP         0x0f0a0000UL
#define HOST_PML4         0x0f0a0000UL
#define HOST_PDPT         0x0f0a1000UL
#define HOST_PD           0x0f0a2000UL  /* four page directories: [0, 4 GiB) in 2 MiB pages */
#define HOST_PD_COUNT     4
#define HOST_PT_END       0x0f0a6000UL
#define VMXON_REGION      0x0f0a6000UL
#define VMCS_REGION       0x0f0a7000UL
#define MSR_BITMAP        0x0f0a8000UL
#define FRAME_WATCH       0x0f0b0000UL  /* u16 per trace-RAM frame: watch index + 1, 0 = unwatched */
#define FRAME_WATCH_END   (FRAME_WATCH + 2 * (AGENT_BASE / PAGE_SIZE))
#define WATCH_BITMAP      0x0f0d0000UL  /* 1 bit per trace-RAM frame: watched by this trace */
#define WATCH_BITMAP_END  (WATCH_BITMAP + (AGENT_BASE / PAGE_SIZE) / 8)
#define OUT_BUF           0x0f100000UL  /* result stream buffer (port 0xE9 or disk), 1 MiB */
#define OUT_BUF_SIZE      0x00100000UL
#define SHADOW_BASE       0x0f200000UL  /* shadow copies of watched frames, 4 KiB each */
#define SHADOW_MAX        1024
#define SOFT_VMCS         0x0f600000UL  /* direct mode: the VMCS fields as plain memory, by encoding */
#define SOFT_VMCS_FIELDS  0x8000
#define CHECK_COPY        0x0f640000UL  /* a copy of what agent_sum covers (agent.c agent_intact) */
#define CHECK_COPY_END    0x0f680000UL
#define WSET_STAMP        0x0f680000UL  /* u16 per word of each watch-list frame: write-set dedup */
#define WSET_STAMP_END    (WSET_STAMP + 2 * SHADOW_MAX * (PAGE_SIZE / 8))
#define BATCH_BUF         0x0f800000UL  /* the batch as read from disk */
#define BATCH_BUF_SIZE    0x00800000UL
#define AGENT_END         0x10000000UL

#define PAGE_SIZE         0x1000UL
#define HOLE_START        0x000a0000UL  /* VGA memory and BIOS ROM: never trace RAM */
#define HOLE_END          0x00100000UL

/* ---- disk layout ---- */
#define AGENT_SECTORS     512
#define SECTOR_SIZE       512
#define BATCH_LBA         AGENT_SECTORS

/* ---- ports ---- */
#define PORT_E9           0x00e9
#define PORT_SHUTDOWN     0x8900
#define ATA_DATA          0x01f0
#define ATA_SECCOUNT      0x01f2
#define ATA_LBA_LO        0x01f3
#define ATA_LBA_MID       0x01f4
#define ATA_LBA_HI        0x01f5
#define ATA_DRIVE         0x01f6
#define ATA_STATUS        0x01f7
#define ATA_COMMAND       0x01f7
#define ATA_CONTROL       0x03f6
#define ATA_CMD_READ      0x20          /* READ SECTORS */
#define ATA_CMD_WRITE     0x30          /* WRITE SECTORS */
#define ATA_DRIVE_LBA_MASTER 0xe0
#define ATA_CONTROL_NIEN  0x02
#define ATA_SR_BSY        0x80
#define ATA_SR_DF         0x20
#define ATA_SR_DRQ        0x08
#define ATA_SR_ERR        0x01
#define ATA_MAX_SECTORS   256
#define ATA_LBA28_SECTORS (1UL << 28)

/* COM1, a 16550 UART: the report lines' console (115200 8N1, polled, no interrupts) */
#define COM1              0x03f8
#define UART_THR          0             /* transmit holding register (DLAB 0) */
#define UART_DLL          0             /* divisor latch, low byte (DLAB 1) */
#define UART_IER          1
#define UART_DLM          1             /* divisor latch, high byte (DLAB 1) */
#define UART_FCR          2
#define UART_LCR          3
#define UART_MCR          4
#define UART_LSR          5
#define UART_LCR_DLAB     0x80
#define UART_LCR_8N1      0x03
#define UART_FCR_ENABLE_CLEAR 0x07      /* FIFOs on, both cleared */
#define UART_MCR_DTR_RTS  0x03          /* OUT2 off: no interrupt line */
#define UART_LSR_THRE     0x20          /* transmit holding register empty */
#define UART_LSR_ABSENT   0xff          /* nothing decodes the port */
#define UART_DIVISOR_115200 1           /* 115200 = 1.8432 MHz / 16 / 1 */
#define UART_POLL_MAX     1000000

/* QEMU (TCG or KVM) power-off: SLP_TYP 0 | SLP_EN into PM1a_CNT of the PIIX4 / ICH9 PM block
 * SeaBIOS puts at 0x600 */
#define PORT_QEMU_ACPI_PM1A_CNT 0x0604
#define ACPI_PM1_SLP_EN_S5 0x2000
#define CPUID1_ECX_VMX    (1U << 5)
#define CPUID1_ECX_HYPERVISOR (1U << 31)
#define CPUID_HV_VENDOR   0x40000000U
#define CPUID_TCG_EBX     0x54474354U   /* "TCGTCGTCGTCG" */
#define CPUID_TCG_ECX     0x43544743U
#define CPUID_TCG_EDX     0x47435447U
#define CPUID_KVM_EBX     0x4b4d564bU   /* "KVMKVMKVM\0\0\0" */
#define CPUID_KVM_ECX     0x564b4d56U
#define CPUID_KVM_EDX     0x0000004dU

/* ---- batch format (PROTOCOL.md "Batch") ---- */
#define BATCH_VERSION     1
#define TRACE_MAGIC       0x31435254U           /* "TRC1" */

#define BATCH_FLAG_EXPECT 0x1U          /* every trace carries expectations (export images) */
#define BATCH_FLAG_RESULTS_DISK 0x2U    /* the result stream goes to disk (struct batch_results) */
#define BATCH_FLAG_DIRECT 0x4U        /* direct mode: guest ops without VMX (PROTOCOL.md) */
#define BATCH_FLAGS_KNOWN (BATCH_FLAG_EXPECT | BATCH_FLAG_RESULTS_DISK | BATCH_FLAG_DIRECT)

struct batch_header {
	char magic[8];
	u32 version;
	u32 count;
	u64 bytes;
	u64 ram_end;
	u32 maxphyaddr;
	u32 flags;
};

/* Follows the batch header when flags has BATCH_FLAG_RESULTS_DISK (the traces start after it). */
struct batch_results {
	u32 lba;             /* the result stream's first sector, >= BATCH_LBA + the batch's sectors */
	u32 sectors;         /* the sectors the stream may fill */
};

struct trace_header {
	u32 magic;
	u32 index;
	u32 nops;
	u32 nwatch;
	u64 init_eptp;
	u64 init_spptp;
	u32 init_ctls2;
	u32 reserved;
	u64 stub_la_sup;
	u64 stub_la_user;
};

struct op_record {
	u8 code;
	u8 a;
	u16 b;
	u32 c;
	u64 x;
	u64 y;
	u64 z;
};

/* One outcome: a step's actual one (its S line) or an expected one (an expectation record of
 * PROTOCOL.md "Expectations", 40 bytes, this layout). */
enum outcome_kind {
	OUTCOME_NONE = 0, OUTCOME_OK = 1, OUTCOME_DATA = 2, OUTCOME_PF = 3, OUTCOME_EXIT = 4,
	OUTCOME_GP = 5, OUTCOME_VMFAIL = 6, OUTCOME_NOENT = 7, OUTCOME_SKIP = 8,
};
#define OUTCOME_KIND_MAX  OUTCOME_NOENT /* the last kind an expectation may have */

struct outcome {
	u8 kind;
	u8 gla_valid;        /* exit: d holds the guest-linear address */
	u8 pad[6];
	u64 a, b, c, d;      /* data: a value; pf: a code, b CR2; exit: a reason, b qual, c GPA, d GLA;
			      * vmfail: a error */
};

enum op_code {
	OP_READ = 1, OP_WRITE = 2, OP_FETCH = 3, OP_SET_REG = 4, OP_INVLPG = 5, OP_INVVPID = 6,
	OP_INVEPT = 7, OP_SET_EPTP = 8, OP_SET_SPPTP = 9, OP_SET_CTLS2 = 10, OP_PHYS_WRITE = 11,
	OP_PHYS_READ = 12, OP_EPT_SET = 13, OP_GPT_SET = 14, OP_SPPT_SET = 15,
	OP_LOAD_CR3 = 16,
};

enum reg_code {
	REG_CR0 = 0, REG_CR3 = 1, REG_CR4 = 2, REG_EFER = 3, REG_RFLAGS = 4, REG_CPL = 5,
	REG_PKRU = 6, REG_PKRS = 7,
};

/* ---- port I/O ---- */
static inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }

/* ---- io.c ---- */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
void out_str(const char *s);
void out_char(char c);
void out_hex(u64 v);
void out_dec(u64 v);
void out_sp_hex(u64 v);          /* " " then hex */
void out_hexbytes(const u8 *p, unsigned long n);
void out_reserve(unsigned long n); /* flush unless n more bytes fit */
int out_teeing(void);             /* out_char copies to COM1 */
char *out_ptr(void);              /* after out_reserve, without COM1: where the next byte goes */
void out_commit(const char *end); /* ... and the end of the bytes written there */
char *out_put_hex(char *o, u64 v); /* hex of v at o; returns its end */
void out_flush(void);            /* the stream so far to its channel (port 0xE9 or the disk) */
void out_to_disk(u32 lba, u32 sectors); /* the stream goes to these sectors from now on */
int out_on_disk(void);
/* with the stream on disk: "TAG [hex value]" to port 0xE9 (a trace's end, the batch's) */
void out_progress(const char *tag, u64 value, int with_value);
unsigned long out_mark(void);    /* the stream's length so far: a position in it */
/* Copies the stream from mark to the next newline (at most max bytes) while it is still in the
 * buffer; 0 once flushed. */
unsigned long out_since(unsigned long mark, char *dst, unsigned long max);
void out_tee_serial(int on);     /* copy what out_char writes to COM1 too */
void serial_init(void);
int ata_read(u32 lba, u32 count, void *dst);
int ata_write(u32 lba, u32 count, const void *src);
void shutdown(void) __attribute__((noreturn));

#endif
