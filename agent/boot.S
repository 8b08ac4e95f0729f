/* boot.S: the 512-byte boot sector. Loads image sectors 1..511 to 0x7E00 with INT 13h AH=42h,
 * enters long mode directly from real mode on a temporary identity map of [0, 1 GiB) (2 MiB pages,
 * tables at 0x1000..0x3FFF), copies the 64-bit payload to AGENT_BASE and jumps to agent_entry. */

#define LOAD_SEGMENT     0x07e0          /* 0x7E00: right after this sector */
#define LOAD_SECTORS     511             /* image sectors 1..511 */
#define CHUNK_SECTORS    64              /* sectors per INT 13h call */
#define PARAS_PER_SECTOR 0x20            /* 512 bytes in 16-byte paragraphs */
#define BOOT_PML4        0x1000
#define BOOT_PDPT        0x2000
#define BOOT_PD          0x3000
#define BOOT_TABLES_END  0x4000
#define PTE_P_RW         0x3
#define PDE_2M_P_RW_PS   0x83
#define PAGE_2M          0x200000
#define CR0_PE_PG        0x80000001
#define CR4_PAE          0x20
#define MSR_EFER         0xc0000080
#define EFER_LME         0x100
#define SEL_CODE64       0x08
#define SEL_DATA         0x10
#define AGENT_BASE       0x0f000000
#define PORT_E9          0xe9

	.code16
	.section .boot, "ax"
	.globl boot_start
boot_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	ljmp $0, $1f
1:	mov %dl, boot_drive

	movw $LOAD_SECTORS, remaining
2:	mov remaining, %cx
	cmp $CHUNK_SECTORS, %cx
	jbe 3f
	mov $CHUNK_SECTORS, %cx
3:	mov %cx, chunk
	mov %cx, dap_count
	mov $dap, %si
	mov boot_drive, %dl
	mov $0x42, %ah
	int $0x13
	jc disk_error
	mov chunk, %cx
	add %cx, dap_lba
	shl $5, %cx                      /* sectors -> paragraphs */
	add %cx, dap_seg
	mov chunk, %cx
	sub %cx, remaining
	jnz 2b

	/* fast A20 */
	in $0x92, %al
	or $2, %al
	and $0xfe, %al
	out %al, $0x92

	/* temporary page tables: PML4[0] -> PDPT[0] -> PD of 512 x 2 MiB */
	cld
	mov $BOOT_PML4, %di
	xor %eax, %eax
	mov $((BOOT_TABLES_END - BOOT_PML4) / 4), %cx
	rep stosl
	movl $(BOOT_PDPT | PTE_P_RW), BOOT_PML4
	movl $(BOOT_PD | PTE_P_RW), BOOT_PDPT
	mov $BOOT_PD, %di
	mov $PDE_2M_P_RW_PS, %eax
	mov $512, %cx
4:	mov %eax, (%di)
	add $PAGE_2M, %eax
	add $8, %di
	loop 4b

	lgdtl gdt_desc
	mov $CR4_PAE, %eax
	mov %eax, %cr4
	mov $BOOT_PML4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PE_PG, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE64, $long_entry

disk_error:
	mov $'!', %al
	out %al, $PORT_E9
5:	hlt
	jmp 5b

	.code64
long_entry:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $0x7e00, %esi
	mov $AGENT_BASE, %edi
	mov $(LOAD_SECTORS * 512 / 8), %ecx
	rep movsq
	mov $agent_entry, %eax
	jmp *%rax

	.p2align 3
gdt:
	.quad 0
	.quad 0x00209a0000000000         /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff         /* 0x10: flat data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	.p2align 2
dap:
	.byte 16, 0
dap_count:
	.word 0
	.word 0                          /* buffer offset */
dap_seg:
	.word LOAD_SEGMENT
dap_lba:
	.quad 1
boot_drive:
	.byte 0
	.p2align 1
remaining:
	.word 0
chunk:
	.word 0

	.org 510
	.word 0xaa55
