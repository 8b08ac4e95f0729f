/* io.c: the agent's I/O: memset/memcpy for the compiler, the port-0xE9 output buffer flushed with
 * rep outsb, lowercase hex formatting, ATA PIO sector reads (LBA28) and the Bochs shutdown port. */
#include "agent.h"

static unsigned long out_len;

void *memset(void *d, int c, unsigned long n)
{
	void *ret = d;
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	void *ret = d;
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

void out_flush(void)
{
	const u8 *p = (const u8 *)OUT_BUF;
	unsigned long n = out_len;

	asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((u16)PORT_E9) : "memory");
	out_len = 0;
}

void out_reserve(unsigned long n)
{
	if (out_len + n > OUT_BUF_SIZE)
		out_flush();
}

void out_char(char c)
{
	if (out_len >= OUT_BUF_SIZE)
		out_flush();
	((char *)OUT_BUF)[out_len++] = c;
}

void out_str(const char *s)
{
	while (*s)
		out_char(*s++);
}

static const char hex_digits[] = "0123456789abcdef";

void out_hex(u64 v)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = hex_digits[v & 0xf];
		v >>= 4;
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

/* Read `count` sectors from `lba` of the primary master into dst. 0 = ok, -1 = drive error. */
int ata_read(u32 lba, u32 count, void *dst)
{
	u16 *p = dst;

	outb(ATA_CONTROL, ATA_CONTROL_NIEN);
	while (count) {
		u32 n = count > ATA_MAX_SECTORS ? ATA_MAX_SECTORS : count;

		if (ata_wait(0))
			return -1;
		outb(ATA_DRIVE, ATA_DRIVE_LBA_MASTER | ((lba >> 24) & 0x0f));
		outb(ATA_SECCOUNT, n == ATA_MAX_SECTORS ? 0 : n);
		outb(ATA_LBA_LO, lba & 0xff);
		outb(ATA_LBA_MID, (lba >> 8) & 0xff);
		outb(ATA_LBA_HI, (lba >> 16) & 0xff);
		outb(ATA_COMMAND, ATA_CMD_READ);
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

void shutdown(void)
{
	static const char msg[] = "Shutdown";
	const char *p = msg;
	unsigned long n = sizeof(msg) - 1;

	out_flush();
	asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((u16)PORT_SHUTDOWN) : "memory");
	for (;;)
		asm volatile("cli; hlt");
}
