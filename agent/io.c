/* io.c: the agent's I/O: memset/memcpy for the compiler; the result stream (an output buffer
 * flushed to port 0xE9 with rep outsb, or to disk sectors with ATA PIO writes); lowercase hex and
 * decimal formatting; the COM1 console the report lines are copied to; ATA PIO sector reads and
 * writes (LBA28); and the shutdown ports of Bochs and QEMU. */
#include "agent.h"

static unsigned long out_len;       /* bytes in OUT_BUF */
static unsigned long out_base;      /* stream offset of OUT_BUF[0] (bytes flushed and dropped) */

/* Where out_flush sends the stream (PROTOCOL.md "Result lines", "Results on disk"). */
enum out_channel { OUT_E9, OUT_DISK, OUT_DISCARD };
static enum out_channel out_channel = OUT_E9;
static u32 out_lba, out_lba_end;   /* OUT_DISK: the sector OUT_BUF[0] goes to; the region's end */

static const char hex_digits[] = "0123456789abcdef";

static int tee_serial;              /* out_char also writes to COM1 */
static int serial_ok;               /* COM1 answered at serial_init */

/* Emulators charge per iteration of a string instruction (Bochs: one byte of `rep stosb` costs
 * about what one quadword of `rep stosq` does), so aligned runs go 8 bytes at a time. */
void *memset(void *d, int c, unsigned long n)
{
	void *ret = d;

	if ((((unsigned long)d | n) & 7) == 0) {
		unsigned long q = n / 8, v = 0x0101010101010101UL * (unsigned char)c;

		asm volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
		return ret;
	}
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	void *ret = d;

	if ((((unsigned long)d | (unsigned long)s | n) & 7) == 0) {
		unsigned long q = n / 8;

		asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
		return ret;
	}
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

static void e9_write(const char *p, unsigned long n)
{
	asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((u16)PORT_E9) : "memory");
}

/* ---- COM1 ---- */

/* Programs COM1 for 115200 8N1 with the FIFOs on and no interrupts. A UART whose line-status
 * register reads 0xff (nothing decodes the port) is left alone and never written again. */
void serial_init(void)
{
	if (inb(COM1 + UART_LSR) == UART_LSR_ABSENT)
		return;
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, UART_DIVISOR_115200 & 0xff);
	outb(COM1 + UART_DLM, UART_DIVISOR_115200 >> 8);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	outb(COM1 + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, UART_MCR_DTR_RTS);
	serial_ok = inb(COM1 + UART_LSR) != UART_LSR_ABSENT;
}

/* One byte to COM1 once the transmitter holding register is empty; a UART that stays busy for
 * UART_POLL_MAX polls is given up for good (no hang on a broken or absent port). */
static void serial_putc(char c)
{
	u32 polls = 0;

	if (!serial_ok)
		return;
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE)) {
		if (++polls == UART_POLL_MAX) {
			serial_ok = 0;
			return;
		}
	}
	outb(COM1 + UART_THR, c);
}

void out_tee_serial(int on)
{
	tee_serial = on;
}

/* ---- ATA PIO ---- */

/* Wait until the drive is not busy; with want_drq also until it has data. 0 = ok, -1 = error. */
static int ata_wait(int want_drq)
{
	for (;;) {
		u8 s = inb(ATA_STATUS);

		if (s & ATA_SR_BSY)
			continue;
		if (s & (ATA_SR_ERR | ATA_SR_DF))
			return -1;
		if (!want_drq || (s & ATA_SR_DRQ))
			return 0;
	}
}

/* Issues an LBA28 command for n sectors (1..ATA_MAX_SECTORS) at lba on the primary master. */
static int ata_command(u32 lba, u32 n, u8 cmd)
{
	if (ata_wait(0))
		return -1;
	outb(ATA_DRIVE, ATA_DRIVE_LBA_MASTER | ((lba >> 24) & 0x0f));
	outb(ATA_SECCOUNT, n == ATA_MAX_SECTORS ? 0 : n);
	outb(ATA_LBA_LO, lba & 0xff);
	outb(ATA_LBA_MID, (lba >> 8) & 0xff);
	outb(ATA_LBA_HI, (lba >> 16) & 0xff);
	outb(ATA_COMMAND, cmd);
	return 0;
}

/* Read `count` sectors from `lba` of the primary master into dst. 0 = ok, -1 = drive error. */
int ata_read(u32 lba, u32 count, void *dst)
{
	u16 *p = dst;

	outb(ATA_CONTROL, ATA_CONTROL_NIEN);
	while (count) {
		u32 n = count > ATA_MAX_SECTORS ? ATA_MAX_SECTORS : count;

		if (ata_command(lba, n, ATA_CMD_READ))
			return -1;
		for (u32 i = 0; i < n; i++) {
			unsigned long words = SECTOR_SIZE / 2;

			if (ata_wait(1))
				return -1;
			asm volatile("rep insw" : "+D"(p), "+c"(words) : "d"((u16)ATA_DATA) : "memory");
		}
		lba += n;
		count -= n;
	}
	return 0;
}

/* Write `count` sectors from src to `lba` of the primary master (WRITE SECTORS, one rep outsw per
 * sector); returns once the drive has taken the last one. 0 = ok, -1 = drive error. */
int ata_write(u32 lba, u32 count, const void *src)
{
	const u16 *p = src;

	outb(ATA_CONTROL, ATA_CONTROL_NIEN);
	while (count) {
		u32 n = count > ATA_MAX_SECTORS ? ATA_MAX_SECTORS : count;

		if (ata_command(lba, n, ATA_CMD_WRITE))
			return -1;
		for (u32 i = 0; i < n; i++) {
			unsigned long words = SECTOR_SIZE / 2;

			if (ata_wait(1))
				return -1;
			asm volatile("rep outsw" : "+S"(p), "+c"(words) : "d"((u16)ATA_DATA) : "memory");
		}
		lba += n;
		count -= n;
	}
	return ata_wait(0);
}

/* ---- the result stream ---- */

/* The stream goes to the `sectors` sectors from `lba` from now on (the output buffer is empty or
 * holds what goes first). */
void out_to_disk(u32 lba, u32 sectors)
{
	out_channel = OUT_DISK;
	out_lba = lba;
	out_lba_end = lba + sectors;
}

int out_on_disk(void)
{
	return out_channel == OUT_DISK;
}

/* The stream cannot go on: the reason goes to port 0xE9, the rest of the stream nowhere, and the
 * batch ends without its D line (the traces announced with E lines are on the disk). */
static void out_disk_failed(const char *why) __attribute__((noreturn));
static void out_disk_failed(const char *why)
{
	out_channel = OUT_DISCARD;
	e9_write("S 0 skip ", 9);
	while (*why)
		e9_write(why++, 1);
	e9_write("\n", 1);
	shutdown();
}

/* Writes the buffer to its sectors, the last one padded with NUL bytes, and keeps that partial
 * sector's bytes at the start of the buffer: the next flush rewrites it with more text, so the
 * disk holds one contiguous stream ended by NULs. */
static void out_flush_disk(void)
{
	u8 *buf = (u8 *)OUT_BUF;
	unsigned long full = out_len / SECTOR_SIZE, tail = out_len % SECTOR_SIZE;
	unsigned long sectors = full + (tail != 0);

	if (!sectors)
		return;
	memset(buf + out_len, 0, sectors * SECTOR_SIZE - out_len);
	if (sectors > out_lba_end - out_lba) {
		/* what fits first, so the disk ends with as much of the stream as it can hold */
		if (out_lba < out_lba_end)
			ata_write(out_lba, out_lba_end - out_lba, buf);
		out_disk_failed("resultsfull");
	}
	if (ata_write(out_lba, sectors, buf))
		out_disk_failed("diskwrite");
	if (full && tail)
		memcpy(buf, buf + full * SECTOR_SIZE, tail);
	out_lba += full;
	out_base += full * SECTOR_SIZE;
	out_len = tail;
}

void out_flush(void)
{
	if (out_channel == OUT_DISK) {
		out_flush_disk();
		return;
	}
	if (out_channel == OUT_E9)
		e9_write((const char *)OUT_BUF, out_len);
	out_base += out_len;
	out_len = 0;
}


/* With the stream on disk: "TAG" or "TAG value" (hex) and a newline straight to port 0xE9. */
void out_progress(const char *tag, u64 value, int with_value)
{
	char line[24];
	unsigned long n = 0;
	int sh = 60;

	if (out_channel != OUT_DISK)
		return;
	while (*tag && n < 4)
		line[n++] = *tag++;
	if (with_value) {
		line[n++] = ' ';
		while (sh && !(value >> sh))
			sh -= 4;
		for (; sh >= 0; sh -= 4)
			line[n++] = hex_digits[(value >> sh) & 0xf];
	}
	line[n++] = '\n';
	e9_write(line, n);
}

/* OUT_BUF_SIZE - SECTOR_SIZE: the disk flush pads the last sector inside the buffer */
#define OUT_BUF_USABLE  (OUT_BUF_SIZE - SECTOR_SIZE)

void out_reserve(unsigned long n)
{
	if (out_len + n > OUT_BUF_USABLE)
		out_flush();
}

unsigned long out_mark(void)
{
	return out_base + out_len;
}

unsigned long out_since(unsigned long mark, char *dst, unsigned long max)
{
	const char *p = (const char *)OUT_BUF + (mark - out_base);
	unsigned long n = 0, left;

	if (mark < out_base || mark > out_base + out_len)
		return 0;                /* flushed since */
	left = out_base + out_len - mark;
	while (n < max && n < left && p[n] != '\n') {
		dst[n] = p[n];
		n++;
	}
	return n;
}

void out_char(char c)
{
	if (out_len >= OUT_BUF_USABLE)
		out_flush();
	((char *)OUT_BUF)[out_len++] = c;
	if (tee_serial)
		serial_putc(c);
}

/* Without the COM1 copy, text goes straight into the buffer (the emulator charges per
 * instruction: a call per character costs more than the character). */
void out_str(const char *s)
{
	if (tee_serial) {
		while (*s)
			out_char(*s++);
		return;
	}
	while (*s) {
		if (out_len >= OUT_BUF_USABLE)
			out_flush();
		((char *)OUT_BUF)[out_len++] = *s++;
	}
}

/* For a writer that reserved its bytes (out_reserve) and needs no COM1 copy (!out_teeing()):
 * where the next byte goes, and the end of what it wrote. */
int out_teeing(void)
{
	return tee_serial;
}

char *out_ptr(void)
{
	return (char *)OUT_BUF + out_len;
}

void out_commit(const char *end)
{
	out_len = end - (const char *)OUT_BUF;
}

char *out_put_hex(char *o, u64 v)
{
	unsigned long n = v ? (64 - __builtin_clzl(v) + 3) / 4 : 1;
	char *end = o + n;

	while (n--) {
		o[n] = hex_digits[v & 0xf];
		v >>= 4;
	}
	return end;
}

void out_hex(u64 v)
{
	unsigned long n = v ? (64 - __builtin_clzl(v) + 3) / 4 : 1;
	char *o;

	if (tee_serial) {
		while (n--)
			out_char(hex_digits[(v >> (4 * n)) & 0xf]);
		return;
	}
	out_reserve(n);
	o = (char *)OUT_BUF + out_len;
	out_len += n;
	while (n--) {
		o[n] = hex_digits[v & 0xf];
		v >>= 4;
	}
}

void out_dec(u64 v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		out_char(tmp[--n]);
}

void out_sp_hex(u64 v)
{
	out_char(' ');
	out_hex(v);
}


void out_hexbytes(const u8 *p, unsigned long n)
{
	char *o;

	out_reserve(2 * n);
	o = (char *)OUT_BUF + out_len;
	for (unsigned long i = 0; i < n; i++) {
		o[2 * i] = hex_digits[p[i] >> 4];
		o[2 * i + 1] = hex_digits[p[i] & 0xf];
	}
	out_len += 2 * n;
}

/* ---- the end ---- */

/* Whether CPUID leaf 0x40000000 names QEMU's accelerators (TCG, KVM): then the PIIX4 / ICH9 ACPI
 * power-off port is there. Never true on bare metal (no hypervisor bit). */
static int on_qemu(void)
{
	u32 a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_HYPERVISOR))
		return 0;
	cpuid(CPUID_HV_VENDOR, 0, &a, &b, &c, &d);
	return (b == CPUID_TCG_EBX && c == CPUID_TCG_ECX && d == CPUID_TCG_EDX) ||
	       (b == CPUID_KVM_EBX && c == CPUID_KVM_ECX && d == CPUID_KVM_EDX);
}

void shutdown(void)
{
	static const char msg[] = "Shutdown";
	const char *p = msg;
	unsigned long n = sizeof(msg) - 1;

	out_flush();
	asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((u16)PORT_SHUTDOWN) : "memory");
	if (on_qemu())
		outw(PORT_QEMU_ACPI_PM1A_CNT, ACPI_PM1_SLP_EN_S5);
	for (;;)
		asm volatile("cli; hlt");
}
